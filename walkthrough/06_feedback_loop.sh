#!/usr/bin/env bash
# Beyond the notebooks: close the loop. Serve a run from a model repository with a payload log,
# let a person correct its answers (scripted: scikit-learn's real handwritten digits uploaded as
# pictures to /predict, then the true label to /feedback), explore what the deployment saw,
# fine-tune the run on the corrected images (rehearsing its original data so it does not forget),
# export the result as the next version, and measure the live server before and after on digits
# it never learnt from.
#
#   bash walkthrough/06_feedback_loop.sh             # starts from $OUT/cnn-best (make demo's model)
#   RUN=models/dnn TUNE_FLAGS='--epochs 3' bash walkthrough/06_feedback_loop.sh
#
# Settings besides common.sh's: RUN (the run to deploy and improve, default $OUT/cnn-best, else
# $OUT/cnn, which 02_train.sh trains), LOOP
# (this walkthrough's folder, default $OUT/loop, replaced), TUNE_FLAGS (more `emnist train`
# options for the fine-tuning). The figures land in $LOOP/loop.json.
source "$(dirname "$0")/common.sh"
source scripts/serve_common.sh
PY=${PY:-.venv/bin/python}
if [ -z "${RUN:-}" ]; then
  RUN=$OUT/cnn-best
  [ -f "$RUN/model.json" ] || RUN=$OUT/cnn
fi
LOOP=${LOOP:-$OUT/loop}
NAME=emnist
read -r -a TUNE <<< "${TUNE_FLAGS:-}"
[ -f "$RUN/model.json" ] || { echo "error: no finished run in \`$RUN\`: run \`make demo\` first, or set RUN=" >&2; exit 1; }
rm -rf "$LOOP"
mkdir -p "$LOOP"
trap '[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true' EXIT

step "deploy $RUN as version 1 of $LOOP/repo, with a payload log in $LOOP/log"
"$EMNIST" export --onnx --quiet --model "$RUN" --repository "$LOOP/repo" --as "$NAME" "${DATA_FLAGS[@]}"
start_serve "$LOOP/serve.log" "$EMNIST" --models "$LOOP/repo" --port 0 --poll-secs 1 --log-dir "$LOOP/log"
echo "emnist serve (pid $PID) listens on $URL"

step "the judge half (odd-numbered digits) through /predict: before"
"$PY" walkthrough/feedback_client.py judge "$URL" --expect-version 1 --json "$LOOP/before.json"

T0=$(date +%s.%N)
step "a person uses the page: the tune half (even-numbered digits) uploaded to /predict, each answer confirmed or corrected with /feedback"
"$PY" walkthrough/feedback_client.py feed "$URL"

step "explore what the deployment saw: predicted classes vs the training data, labelled share, drift"
"$EMNIST" explore --data "$LOOP/log" --out "$LOOP/explore" --quiet > "$LOOP/explore.txt"
sed -n '/^class /q;p' "$LOOP/explore.txt"
echo "(the table per class, figures and explore.json: $LOOP/explore.txt, $LOOP/explore)"

step "fine-tune $RUN on the log's labelled images, rehearsing its original training data"
"$EMNIST" train --init "$RUN" --data "$LOOP/log" --out "$LOOP/tuned" --force --quiet "${TUNE[@]}"

step "export the fine-tuned run as version 2: the running server loads it"
"$EMNIST" export --onnx --quiet --model "$LOOP/tuned" --repository "$LOOP/repo" --as "$NAME" "${DATA_FLAGS[@]}"
"$PY" walkthrough/feedback_client.py wait "$URL" "$NAME" 2
T1=$(date +%s.%N)
echo "version 2 is live"

step "the judge half again: after"
"$PY" walkthrough/feedback_client.py judge "$URL" --expect-version 2 --json "$LOOP/after.json"
kill -TERM "$PID"
wait "$PID"
PID=""

"$PY" - "$LOOP" "$RUN" "$T0" "$T1" <<'EOF'
import json, os, sys
loop, run, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
before = json.load(open(os.path.join(loop, "before.json")))
after = json.load(open(os.path.join(loop, "after.json")))
start = json.load(open(os.path.join(run, "model.json")))
tuned = json.load(open(os.path.join(loop, "tuned", "model.json")))
summary = {
    "judge_before": before,
    "judge_after": after,
    "test_accuracy_before": start["metrics"]["test_accuracy"],
    "test_accuracy_after": tuned["metrics"]["test_accuracy"],
    "test_dataset": tuned["dataset"]["name"],
    "fine_tune": tuned["fine_tune"],
    "loop_seconds": t1 - t0,
}
with open(os.path.join(loop, "loop.json.tmp"), "w") as f:
    json.dump(summary, f, indent=2)
os.replace(os.path.join(loop, "loop.json.tmp"), os.path.join(loop, "loop.json"))
pct = lambda x: f"{100 * x:.1f} %"
print()
print(f"judge half, exact:         {pct(before['exact_accuracy'])} -> {pct(after['exact_accuracy'])}")
print(f"judge half, among digits:  {pct(before['digit_accuracy'])} -> {pct(after['digit_accuracy'])}")
print(f"{summary['test_dataset']} test: {pct(summary['test_accuracy_before'])} -> {pct(summary['test_accuracy_after'])}")
print(f"the loop (feed, explore, fine-tune, export, reload) took {summary['loop_seconds']:.1f} s; figures in {loop}/loop.json")
EOF
