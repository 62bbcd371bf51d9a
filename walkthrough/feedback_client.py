"""A person using the draw-and-predict page, scripted: real handwriting (scikit-learn's
`load_digits()`, drawn as bench/real_handwriting.py draws it) sent to `emnist serve` as picture
uploads to `/predict`, and corrections sent to `/feedback`. Used by walkthrough/06_feedback_loop.sh.

The digits split by index parity, as in bench/RESULTS.md: the even "tune" half is what the person
corrects (the only images the loop learns from), the odd "judge" half only measures.
FEEDBACK_SPLIT=dev splits the tune half instead (0 and 2 mod 4), to choose settings on.

    python walkthrough/feedback_client.py feed URL            # the tune half: predict, then the true label
    python walkthrough/feedback_client.py judge URL [--json OUT] [--expect-version N]
    python walkthrough/feedback_client.py wait URL NAME VERSION [--timeout S]
"""

import argparse
import json
import os
import sys
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from real_handwriting import pictures  # noqa: E402

DIGITS = "0123456789"


def halves():
    """(tune, judge). With FEEDBACK_SPLIT=dev, both come from the tune half (indices 0 and 2 mod
    4): for choosing settings without ever looking at the judge half."""
    pngs, labels = pictures()
    if os.environ.get("FEEDBACK_SPLIT", "judge") == "dev":
        tune = [(pngs[i], labels[i]) for i in range(0, len(pngs), 4)]
        judge = [(pngs[i], labels[i]) for i in range(2, len(pngs), 4)]
    else:
        tune = [(pngs[i], labels[i]) for i in range(0, len(pngs), 2)]
        judge = [(pngs[i], labels[i]) for i in range(1, len(pngs), 2)]
    return tune, judge


def client(token):
    """A kept-alive HTTP session, with the bearer token when the server wants one."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def predict(session, url, png):
    """The answer to one picture upload, with what the model saw, its version and the request id."""
    r = session.post(f"{url}/predict?k=62&detail=1", data=png, headers={"Content-Type": "image/png"}, timeout=30)
    if r.status_code != 200:
        sys.exit(f"error: /predict answered {r.status_code}: {r.text[:200]}")
    return r.json()


def feed(url, token=None):
    """Each tune image predicted, then labelled as a person would: "that's right" or "it's a 7"."""
    tune, _ = halves()
    session = client(token)
    confirmed = corrected = 0
    for png, label in tune:
        answer = predict(session, url, png)
        top = answer["predictions"][0]["label"]
        r = session.post(f"{url}/feedback", json={"id": answer["id"], "label": str(label)}, timeout=30)
        if r.status_code != 200:
            sys.exit(f"error: /feedback answered {r.status_code}: {r.text[:200]}")
        if top == str(label):
            confirmed += 1
        else:
            corrected += 1
    print(f"fed {len(tune)} pictures: {confirmed} predictions confirmed, {corrected} corrected")


def judge(url, expect_version=None, token=None):
    """Accuracy on the judge half: exact (over every class) and the argmax among the digits."""
    _, judged = halves()
    session = client(token)
    exact = digits = 0
    versions = set()
    for png, label in judged:
        answer = predict(session, url, png)
        versions.add(answer["version"])
        preds = answer["predictions"]
        exact += preds[0]["label"] == str(label)
        best_digit = next((p["label"] for p in preds if p["label"] in DIGITS and len(p["label"]) == 1), None)
        digits += best_digit == str(label)
    if expect_version is not None and versions != {str(expect_version)}:
        sys.exit(f"error: the judge half was answered by versions {sorted(versions)}, not {expect_version}")
    n = len(judged)
    return {"n": n, "exact_accuracy": exact / n, "digit_accuracy": digits / n, "versions": sorted(versions)}


def wait(url, name, version, timeout):
    """Waits until `version` of model `name` is ready (the server polls its repository)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = requests.get(f"{url}/v2/models/{name}/versions/{version}/ready", timeout=5)
            if r.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    sys.exit(f"error: version {version} of `{name}` was not ready within {timeout} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("feed")
    f.add_argument("url")
    j = sub.add_parser("judge")
    j.add_argument("url")
    j.add_argument("--json")
    j.add_argument("--expect-version", type=int)
    w = sub.add_parser("wait")
    w.add_argument("url")
    w.add_argument("name")
    w.add_argument("version", type=int)
    w.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    token = os.environ.get("EMNIST_TOKEN")
    if args.command == "feed":
        feed(args.url, token)
    elif args.command == "judge":
        r = judge(args.url, args.expect_version, token)
        print(
            f"judge half ({r['n']} digits, version {', '.join(r['versions'])}): "
            f"exact {100 * r['exact_accuracy']:.1f} %, among digits {100 * r['digit_accuracy']:.1f} %"
        )
        if args.json:
            with open(args.json + ".tmp", "w") as out:
                json.dump(r, out, indent=2)
            os.replace(args.json + ".tmp", args.json)
    else:
        wait(args.url, args.name, args.version, args.timeout)


if __name__ == "__main__":
    main()
