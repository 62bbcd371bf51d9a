"""walkthrough/06_feedback_loop.sh end to end, as a user runs it: a run deployed from a model
repository with a payload log, real handwriting (scikit-learn's digits) uploaded to /predict and
corrected with /feedback, explore on the log, `emnist train --init` on it, the export loaded live
as version 2, and the judge half (never fed back) measured through /predict before and after.

The run it starts from is the cheapest one: the linear model, one epoch of the seed's protocol on
the default data. The test asserts directions and margins, never timings."""

import json
import os
import subprocess

from conftest import ROOT


def test_the_feedback_loop_improves_the_judge_half_without_forgetting(emnist_bin, tmp_path):
    run = tmp_path / "linear"
    train = subprocess.run(
        [str(emnist_bin), "train", "--model", "linear", "--epochs", "1", "--out", str(run), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stderr
    env = dict(os.environ, EMNIST=str(emnist_bin), OUT=str(tmp_path), RUN=str(run), PY=str(ROOT / ".venv/bin/python"))
    loop = subprocess.run(
        ["bash", "walkthrough/06_feedback_loop.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert loop.returncode == 0, loop.stdout[-4000:] + loop.stderr[-4000:]
    figures = json.loads((tmp_path / "loop" / "loop.json").read_text())
    before, after = figures["judge_before"], figures["judge_after"]
    assert before["versions"] == ["1"] and after["versions"] == ["2"], "the live server answered with the new version"
    assert before["n"] == after["n"] == 898
    assert after["exact_accuracy"] > before["exact_accuracy"] + 0.2, figures
    assert after["digit_accuracy"] > before["digit_accuracy"] + 0.1, figures
    # Rehearsal: the original test accuracy stays close.
    assert figures["test_accuracy_after"] > figures["test_accuracy_before"] - 0.05, figures
    tune = figures["fine_tune"]
    assert tune["data"]["name"].startswith("payload log"), tune
    # 899 tune images were corrected or confirmed; one in ten went to the log's test part.
    assert 700 < tune["new_images_per_epoch"] < 899, tune
    assert tune["new_test"]["accuracy_after"] > tune["new_test"]["accuracy_before"], tune
    assert "judge half, exact:" in loop.stdout
