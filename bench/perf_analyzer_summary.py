"""Part 2 of bench/perf_analyzer.sh: `--engine auto` against each engine forced, medians over rounds.

    .venv/bin/python bench/perf_analyzer_summary.py bench/out/perf_analyzer ROUNDS

Reads e-{model}-{engine}-{batch}-r{round}.csv (perf_analyzer's `-f` output) and e-chosen.txt
(auto's choice per server start). For each model and batch size: the median images/s of auto,
tract and onnxruntime, auto's ratio to the better forced engine (goal: at least 0.90), and
whether auto chose the engine that was faster when forced.
"""

import csv
import statistics
import sys


def main():
    out, rounds = sys.argv[1], int(sys.argv[2])

    def rate(m, e, b, r):
        return float(next(csv.DictReader(open(f"{out}/e-{m}-{e}-{b}-r{r}.csv")))["Inferences/Second"])

    chosen = {}
    for line in open(f"{out}/e-chosen.txt"):
        m, c = line.split()
        chosen.setdefault(m, set()).add(c.split('"')[1])
    print(f"\nmedians of {rounds} round(s), images/s; auto / the better engine forced")
    print(f"{'model':9} {'auto chose':12} {'b':>4} {'auto':>10} {'tract':>10} {'onnxruntime':>12} {'auto/best':>10}  chose the faster?  per round (auto; best)")
    worst, wrong = 1.0, 0
    for m in ("linear", "dnn", "cnn", "cnn-best"):
        for b in (128, 1):
            per = {e: [rate(m, e, b, r) for r in range(1, rounds + 1)] for e in ("auto", "tract", "onnxruntime")}
            med = {e: statistics.median(v) for e, v in per.items()}
            best = max(("tract", "onnxruntime"), key=lambda e: med[e])
            rel = med["auto"] / med[best]
            worst = min(worst, rel)
            picks = chosen.get(m, {"?"})
            right = picks == {best}
            wrong += not right
            rounds_txt = ", ".join(f"{a:,.0f}; {x:,.0f}" for a, x in zip(per["auto"], per[best]))
            print(f"{m:9} {'/'.join(sorted(picks)):12} {b:4d} {med['auto']:10,.0f} {med['tract']:10,.0f} {med['onnxruntime']:12,.0f} "
                  f"{rel:9.2f}x  {'yes' if right else 'NO':17}  {rounds_txt}")
    print(f"worst cell: auto at {worst:.2f}x the better engine (goal: at least 0.90x): {'met' if worst >= 0.9 else 'NOT met'}; "
          f"auto chose the faster engine in {8 - wrong} of 8 cells")


if __name__ == "__main__":
    main()
