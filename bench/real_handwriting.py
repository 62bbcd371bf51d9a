"""Real handwriting through the deployed server: scikit-learn's `load_digits()` (1,797 digits written
by 13 people, the test set of UCI optdigits; 8x8, values 0..16), each drawn as a 64x64
dark-on-light picture (bilinear upsampling to 48x48 and an 8-pixel white margin) and POSTed to
`/predict?k=62` of `emnist serve` with each model given. Reports, per model: accuracy of the
argmax among the ten digit classes, and of the exact label over every class the model has.

These digits measure; they never train anything and no generator parameter is fitted to them.
Choices made while developing looked only at the even-numbered half ("tune"); the odd half
("judge") was kept for judging them. Every figure is reported for all 1,797 and for each half.

    python bench/real_handwriting.py [--emnist target/release/emnist] [--json OUT] NAME=FILE.onnx ...
"""

import argparse
import io
import json
import os

import numpy as np
import requests
from PIL import Image
from sklearn.datasets import load_digits

from ready_file import start_serve


def pictures():
    """The 1,797 digits as PNG bytes, and their labels."""
    digits = load_digits()
    out = []
    for img in digits.images:
        ink = Image.fromarray((img / 16.0 * 255.0).astype(np.float32), mode="F")
        big = np.asarray(ink.resize((48, 48), Image.BILINEAR))
        page = np.full((64, 64), 255.0, np.float32)
        page[8:56, 8:56] = 255.0 - np.clip(big, 0.0, 255.0)
        buf = io.BytesIO()
        Image.fromarray(page.round().astype(np.uint8), mode="L").save(buf, format="PNG")
        out.append(buf.getvalue())
    return out, digits.target.tolist()


def start(emnist, model):
    """`emnist serve` on a free port; returns (process, base URL)."""
    proc, ready = start_serve([emnist, "serve", "--model", model, "--port", "0", "--quiet"])
    return proc, ready["http"]


def measure(url, pngs, labels):
    session = requests.Session()
    digit_hits, exact_hits = [], []
    for png, label in zip(pngs, labels):
        r = session.post(f"{url}/predict?k=62", data=png, headers={"Content-Type": "image/png"}, timeout=30)
        r.raise_for_status()
        preds = r.json()
        digits = [p for p in preds if len(p["label"]) == 1 and p["label"] in "0123456789"]
        digit_hits.append(bool(digits) and digits[0]["label"] == str(label))
        exact_hits.append(preds[0]["label"] == str(label))
    out = {}
    for half, pick in [("all", slice(None)), ("tune", slice(0, None, 2)), ("judge", slice(1, None, 2))]:
        d, e = digit_hits[pick], exact_hits[pick]
        out[half] = {"n": len(d), "digit_accuracy": sum(d) / len(d), "exact_accuracy": sum(e) / len(e)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emnist", default=os.environ.get("EMNIST_BIN", "target/release/emnist"))
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("models", nargs="+", metavar="NAME=FILE.onnx")
    args = ap.parse_args()
    pngs, labels = pictures()
    results = {}
    for spec in args.models:
        name, _, path = spec.partition("=")
        if not path:
            name, path = os.path.basename(spec), spec
        proc, url = start(args.emnist, path)
        try:
            results[name] = measure(url, pngs, labels)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        r = results[name]
        print(
            f"{name:<28}"
            + "   ".join(
                f"{half} digits {100 * r[half]['digit_accuracy']:5.1f} % exact {100 * r[half]['exact_accuracy']:5.1f} %"
                for half in ("all", "tune", "judge")
            )
        )
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
