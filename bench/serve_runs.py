"""The figures of one serving benchmark run, for the reports of bench/serve_vs_flask.sh,
bench/serve_protocols.sh and bench/serve_vs_peers.sh (imported with `bench` on sys.path).

RESULT_FILE holds one JSON line per timed run (bench/wrk_post.lua, bench/h2load_result.py),
RESULT_FILE.cpu the server's CPU seconds and the load average for each, in the same order
(bench/serve_common.sh).
"""

import json
import math
import statistics


def load(result_file, keys):
    """(runs, by label, medians of `keys` by label); each run gains `cpu_ms_per_req`."""
    runs = [json.loads(l) for l in open(result_file)]
    cpus = [json.loads(l) for l in open(result_file + ".cpu")]
    assert len(runs) == len(cpus), "a run without its CPU line"
    for r, c in zip(runs, cpus):
        assert r["label"] == c["label"], (r["label"], c["label"])
        r.update(c)
        r["cpu_ms_per_req"] = 1e3 * r["server_cpu_s"] / max(r["requests"], 1)
    by = {}
    for r in runs:
        by.setdefault(r["label"], []).append(r)
    med = {k: {f: statistics.median(x[f] for x in v) for f in keys} for k, v in by.items()}
    return runs, by, med


# t quantiles (two-sided 95 %) for small samples; 1.96 beyond.
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23,
       12: 2.18, 15: 2.13, 20: 2.09, 25: 2.06, 30: 2.04}


def t95(df):
    return next((T95[k] for k in sorted(T95) if k >= df), 1.96)


def geomean_interval(ratios):
    """The geometric mean of per-round ratios and its 95 % interval (t on the logs); the interval
    is NaN for one round."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    half = t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)
