#!/usr/bin/env python3
"""Whole-process cost of a command, as a user pays it: wall time, CPU seconds (user + system) and
peak RSS of that process and its children, from os.wait4's rusage (not the shell's).

    .venv/bin/python bench/measure.py ROUNDS LABEL -- CMD ARGS...

Runs CMD ROUNDS times in a row (stdout discarded; stderr kept in case it fails) and prints one
JSON line: label, rounds, median and min wall seconds, median CPU seconds, max peak RSS in MiB.
An environment variable SETUP_EACH, when set, is run with `sh -c` before every round, untimed
(e.g. to empty a cache folder).
"""

import json
import os
import statistics
import subprocess
import sys
import time


def once(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err.decode(errors='replace')[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def main():
    rounds, label = int(sys.argv[1]), sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    walls, cpus, rss = [], [], []
    for _ in range(rounds):
        if os.environ.get("SETUP_EACH"):
            subprocess.run(["sh", "-c", os.environ["SETUP_EACH"]], check=True)
        w, c, r = once(cmd)
        walls.append(w)
        cpus.append(c)
        rss.append(r)
    print(json.dumps({
        "label": label,
        "rounds": rounds,
        "wall_s_median": round(statistics.median(walls), 4),
        "wall_s_min": round(min(walls), 4),
        "cpu_s_median": round(statistics.median(cpus), 4),
        "peak_rss_mib": round(max(rss), 1),
    }))


if __name__ == "__main__":
    main()
