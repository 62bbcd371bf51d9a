"""The figures of one serving benchmark run, for the reports of bench/serve_vs_flask.sh,
bench/serve_protocols.sh and bench/serve_vs_peers.sh (imported with `bench` on sys.path).

RESULT_FILE holds one JSON line per timed run (bench/wrk_post.lua, bench/h2load_result.py),
RESULT_FILE.cpu the server's CPU seconds and the load average for each, in the same order
(bench/serve_common.sh).
"""

import json
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
