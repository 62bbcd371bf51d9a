#!/usr/bin/env python3
"""Write a full-size, byclass-shaped EMNIST Matlab file for the load benchmark.

    .venv/bin/python bench/make_bench_mat.py [PATH] [--seed N] [--dense]

PATH defaults to bench/out/emnist-byclass-bench.mat (bench/out is git-ignored).

Layout as NIST's matlab/emnist-byclass.mat: MAT v7 (zlib-compressed, via
scipy.io.savemat(do_compression=True)), one variable `dataset`, a 1x1 struct
with fields train, test, mapping; train/test are 1x1 structs with images
(N x 784 uint8, each row read column-major is the upright image), labels
(N x 1 double), writers (N x 1 double); mapping 62 x 2 double.

697,932 train + 116,323 test synthetic "handwriting" images: per image two
strokes (polylines of 2 segments each) of random thickness, anti-aliased grey
edges, mostly black.  Class distribution unbalanced like byclass (digits about
half).  Prints the file size, the time taken and the md5 of the concatenated
upright (row-major, C order) train images, which bench/load_scipy.py and the
Rust loader must reproduce.

--dense: the same shape and layout with dense pixels instead of the mostly
black strokes (which deflate squeezes 10:1): Fashion-MNIST's 70,000 real
images (Debian's dataset-fashion-mnist idx files under FASHION_DIR), tiled
to 814,255 with every other pass mirrored left to right, so that no image
repeats within deflate's window; where those files are missing, seeded
random-ish pixels (smooth blobs plus noise) of a similar density.
"""

import argparse
import gzip
import hashlib
import json
import os
import time

import numpy as np
import scipy.io

N_TRAIN = 697_932
N_TEST = 116_323
CHUNK = 8192
FASHION_DIR = "/usr/share/datasets/fashion-mnist"

CODES = [ord(c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]

# Relative class frequencies, byclass-like (digits about half of the data,
# letters very uneven: O, S, e, l, t frequent, many lowercase rare).  The
# first three digits follow the real byclass train counts; the rest are
# approximate.
WEIGHTS = np.array([
    34585, 38374, 34203, 35143, 33535, 31416, 34232, 35754, 33946, 33847,  # 0-9
    6407, 3878, 10094, 4562, 5218, 9182, 2517, 3152, 11946, 3762,          # A-J
    2468, 5076, 9002, 8237, 24983, 8347, 2605, 5073, 20764, 9820,          # K-T
    12602, 4637, 4695, 2771, 4743, 2701,                                    # U-Z
    10033, 5159, 2854, 10177, 24631, 2561, 3687, 8738, 2725, 1896,         # a-j
    2491, 15318, 2645, 11418, 2749, 2448, 2994, 14210, 2863, 18262,        # k-t
    2830, 2910, 2697, 2822, 2365, 2725,                                     # u-z
], dtype=np.float64)
assert len(WEIGHTS) == 62

# pixel centres, [784, 2] as (row, col), row-major
_RR, _CC = np.meshgrid(np.arange(28, dtype=np.float32), np.arange(28, dtype=np.float32), indexing="ij")
PIX = np.stack([_RR.ravel(), _CC.ravel()], axis=1)


def class_labels(rng, n):
    counts = np.floor(WEIGHTS / WEIGHTS.sum() * n).astype(np.int64)
    counts[np.argsort(-WEIGHTS)[: n - counts.sum()]] += 1
    labels = np.repeat(np.arange(62), counts)
    rng.shuffle(labels)
    return labels


def strokes(rng, n):
    """n upright 28x28 uint8 images with blurred strokes, [n, 28, 28]."""
    # two strokes, each a polyline through 3 points -> 4 segments
    pts = rng.uniform(4.0, 23.0, size=(n, 2, 3, 2)).astype(np.float32)
    a = pts[:, :, :2, :].reshape(n, 4, 2)
    ab = pts[:, :, 1:, :].reshape(n, 4, 2) - a
    inv = 1.0 / np.maximum((ab * ab).sum(-1), 1e-6)  # [n, 4]
    ar, ac = a[..., 0, None], a[..., 1, None]  # [n, 4, 1]
    abr, abc = ab[..., 0, None], ab[..., 1, None]
    pr = PIX[:, 0][None, None, :] - ar  # [n, 4, 784]
    pc = PIX[:, 1][None, None, :] - ac
    t = pr * abr
    t += pc * abc
    t *= inv[..., None]
    np.clip(t, 0.0, 1.0, out=t)
    pr -= t * abr
    pc -= t * abc
    pr *= pr
    pc *= pc
    pr += pc
    dist = np.sqrt(pr.min(axis=1))  # [n, 784]
    radius = rng.uniform(0.4, 1.1, size=(n, 1)).astype(np.float32)
    soft = rng.uniform(1.0, 1.6, size=(n, 1)).astype(np.float32)
    v = np.clip((radius + soft - dist) / soft, 0.0, 1.0)
    peak = rng.uniform(200, 255, size=(n, 1)).astype(np.float32)
    return np.rint(v * peak).astype(np.uint8).reshape(n, 28, 28)


def fashion_images():
    """Fashion-MNIST's 70,000 upright images, [70000, 28, 28] uint8, or None without the files."""
    out = []
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        path = os.path.join(FASHION_DIR, name)
        if not os.path.isfile(path):
            return None
        with gzip.open(path, "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[4:8], "big")
        out.append(np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28))
    return np.concatenate(out)


def random_dense(rng, n):
    """n upright images of smooth blobs plus noise, about as dense as Fashion-MNIST, [n, 28, 28]."""
    coarse = rng.uniform(0, 255, size=(n, 7, 7)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, 4, axis=1), 4, axis=2)
    noise = rng.normal(0, 24, size=(n, 28, 28)).astype(np.float32)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


class DensePixels:
    """Hands out dense upright images in order: Fashion-MNIST tiled (odd passes mirrored), else random."""

    def __init__(self, rng):
        self.rng, self.pool, self.next = rng, fashion_images(), 0

    def take(self, n):
        if self.pool is None:
            return random_dense(self.rng, n)
        idx = np.arange(self.next, self.next + n)
        self.next += n
        up = self.pool[idx % len(self.pool)]
        mirrored = (idx // len(self.pool)) % 2 == 1
        up[mirrored] = up[mirrored][:, :, ::-1]
        return up


def part(rng, n, md5, images):
    """(rows [n, 784] F-ordered as MATLAB holds them, labels, writers); `images(rng, n)` makes
    n upright images."""
    rows = np.empty((n, 784), np.uint8, order="F")
    nonzero = 0
    for i0 in range(0, n, CHUNK):
        i1 = min(n, i0 + CHUNK)
        up = images(rng, i1 - i0)
        md5.update(up.tobytes())
        nonzero += int(np.count_nonzero(up))
        rows[i0:i1] = up.transpose(0, 2, 1).reshape(i1 - i0, 784)
    labels = class_labels(rng, n).astype(np.float64).reshape(-1, 1)
    writers = rng.integers(0, 3600, size=(n, 1)).astype(np.float64)
    return {"images": rows, "labels": labels, "writers": writers}, nonzero / (n * 784)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="bench/out/emnist-byclass-bench.mat")
    ap.add_argument("--seed", type=int, default=1702_05373)
    ap.add_argument("--dense", action="store_true",
                    help=f"dense pixels: Fashion-MNIST from {FASHION_DIR} (else random-ish)")
    args = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.path)), exist_ok=True)

    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    md5_train, md5_test = hashlib.md5(), hashlib.md5()
    if args.dense:
        dense = DensePixels(rng)
        images = lambda _rng, n: dense.take(n)  # noqa: E731
        pixels = "fashion-mnist" if dense.pool is not None else "random dense"
    else:
        images, pixels = strokes, "strokes"
    train, nz_train = part(rng, N_TRAIN, md5_train, images)
    test, nz_test = part(rng, N_TEST, md5_test, images)
    mapping = np.array([[i, c] for i, c in enumerate(CODES)], np.float64)
    t_gen = time.perf_counter() - t0
    scipy.io.savemat(args.path, {"dataset": {"train": train, "test": test, "mapping": mapping}},
                     do_compression=True, format="5")
    t_all = time.perf_counter() - t0
    size = os.path.getsize(args.path)
    print(json.dumps({
        "path": args.path,
        "bytes": size,
        "mib": round(size / 2**20, 1),
        "pixels": pixels,
        "train": N_TRAIN,
        "test": N_TEST,
        "nonzero_fraction": round((nz_train * N_TRAIN + nz_test * N_TEST) / (N_TRAIN + N_TEST), 4),
        "generate_seconds": round(t_gen, 1),
        "total_seconds": round(t_all, 1),
        "train_images_md5": md5_train.hexdigest(),
        "test_images_md5": md5_test.hexdigest(),
        "train_labels_md5": hashlib.md5(train["labels"][:, 0].astype(np.uint8).tobytes()).hexdigest(),
    }))


if __name__ == "__main__":
    main()
