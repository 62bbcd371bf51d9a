#!/usr/bin/env python3
"""What a Python user does to load an EMNIST .mat file: the baseline for our loader.

    .venv/bin/python bench/load_scipy.py PATH
    /usr/bin/time -v .venv/bin/python bench/load_scipy.py PATH   # for max RSS
    .venv/bin/python bench/load_scipy.py PATH --no-check        # load and reshape only, prints nothing

Times scipy.io.loadmat(PATH) plus building, for train and test, C-contiguous
upright [N, 28, 28] uint8 images and class-index labels.  Prints one JSON line:
{"seconds", "train", "test", "train_images_md5", "test_images_md5",
"train_labels_md5", "test_labels_md5"}; the md5s (of the upright, row-major
image bytes and of the class indices as uint8) are computed after the timer
stops, so that the Rust loader's output can be checked for identity.
"""

import hashlib
import json
import sys
import time

import numpy as np
import scipy.io


def main():
    args = [a for a in sys.argv[1:] if a != "--no-check"]
    path = args[0] if args else "bench/out/emnist-byclass-bench.mat"
    t0 = time.perf_counter()
    ds = scipy.io.loadmat(path)["dataset"][0, 0]
    mapping_labels = ds["mapping"][:, 0]
    out = {}
    for part in ("train", "test"):
        p = ds[part][0, 0]
        images = np.ascontiguousarray(p["images"].reshape(-1, 28, 28, order="F"))
        values = p["labels"].ravel()
        # class index = row of the label value in the mapping
        order = np.argsort(mapping_labels)
        classes = order[np.searchsorted(mapping_labels, values, sorter=order)]
        out[part] = (images, classes)
    seconds = time.perf_counter() - t0
    if "--no-check" in sys.argv:
        return  # timed as a whole process by bench/costs.sh: the load and reshape, nothing else

    def md5(a):
        return hashlib.md5(a.tobytes()).hexdigest()

    print(json.dumps({
        "seconds": round(seconds, 3),
        "train": len(out["train"][0]),
        "test": len(out["test"][0]),
        "train_images_md5": md5(out["train"][0]),
        "test_images_md5": md5(out["test"][0]),
        "train_labels_md5": md5(out["train"][1].astype(np.uint8)),
        "test_labels_md5": md5(out["test"][1].astype(np.uint8)),
    }))


if __name__ == "__main__":
    main()
