"""Write the two variants used by the repro into bench/out/repro-mat/ (run from the repository root
with .venv/bin/python)."""
import os
import sys
import numpy as np
import scipy.io

src = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/emnist-letters.mat"
raw = open(src, "rb").read()
OUT = "bench/out/repro-mat"
os.makedirs(OUT, exist_ok=True)

# 1. Same bytes, but the 116-byte header text starts with "MATLAB 5.0 MAT-file, " (comma), as MATLAB writes it.
text = raw[:116].rstrip(b" \0").replace(b"MAT-file Platform", b"MAT-file, Platform", 1)
assert text.startswith(b"MATLAB 5.0 MAT-file, ") and len(text) <= 116
open(f"{OUT}/emnist-letters-comma.mat", "wb").write(text.ljust(116, b" ") + raw[116:])

# 2. Control: train images as a plain top-level uint8 matrix (no struct), scipy header, compressed.
ds = scipy.io.loadmat(src)["dataset"][0, 0]
images = ds["train"][0, 0]["images"]
scipy.io.savemat(f"{OUT}/emnist-letters-flat.mat", {"images": images}, do_compression=True)

# Same digest as src/main.rs, over the column-major (MAT-file order) bytes.
h = 0
for b in images.tobytes(order="F"):
    h = (h * 31 + b) % 2**64
print(f"scipy: dataset.train.images shape={images.shape} dtype={images.dtype} sum={int(images.sum(dtype=np.uint64))} h={h:016x}")
