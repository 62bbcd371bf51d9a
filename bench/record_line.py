"""One line of a training run's figures from its model.json: python bench/record_line.py LABEL RUN/model.json"""

import json
import sys

label, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
m = r["metrics"]
line = "{:<28} test accuracy {:.2f} %, balanced accuracy {:.2f} %, {} epochs, {:.0f} s".format(
    label, 100 * m["test_accuracy"], 100 * m["balanced_accuracy"], m["epochs_completed"], r["wall_time_s"]
)
v = r.get("validation")
if v:
    line += ", best epoch {} (validation {:.2f} %)".format(v["best_epoch"], 100 * v["best_accuracy"])
print(line)
