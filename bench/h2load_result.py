"""One h2load run's figures as the JSON line bench/wrk_post.lua writes for wrk (same keys), so
bench/serve_vs_peers.sh can put gRPC runs in the same table.

    python bench/h2load_result.py LABEL H2LOAD_OUTPUT LOG_FILE ANSWER_BYTES BODY_BYTES >> RESULT_FILE

H2LOAD_OUTPUT: h2load's report; LOG_FILE: its `--log-file` (one line per request: start time µs,
HTTP status, µs to the end of the answer); ANSWER_BYTES: the size of a good answer's DATA
(bench/peers/grpc_check.py). gRPC reports errors in trailers under HTTP 200, and an error answer
carries no DATA frame, so answers with data = DATA bytes / ANSWER_BYTES; the rest count as non-200.
"""

import json
import re
import sys

import numpy as np


def main():
    label, report, log, answer, body = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", report)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", report)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", report)
    t = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?\((\d+)\) data", report)
    if not (m and r and s and t):
        raise SystemExit(f"{label}: cannot read h2load's report:\n{report}")
    done, succeeded, failed, errored, timeout = (int(r.group(i)) for i in (3, 4, 5, 6, 7))
    with_data = min(succeeded, int(t.group(3)) // answer)
    lat = np.array([int(line.split("\t")[2]) for line in open(log) if line.strip()], dtype=np.float64) / 1e3
    if len(lat) == 0:
        raise SystemExit(f"{label}: h2load logged no request")
    rps = float(m.group(2))
    print(json.dumps({
        "label": label, "requests": done, "seconds": done / rps if rps else 0.0, "rps": rps,
        "bytes_read": int(t.group(1)),
        "p50_ms": float(np.percentile(lat, 50)), "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)), "p999_ms": float(np.percentile(lat, 99.9)),
        "mean_ms": float(lat.mean()), "max_ms": float(lat.max()),
        "ok_200": with_data, "non200": done - with_data,
        "first_non200": "" if with_data == done else f"{done - with_data} answers without data (gRPC errors)",
        "err_connect": 0, "err_read": errored, "err_write": 0, "err_status": failed, "err_timeout": timeout,
        "body_bytes": body,
    }))


if __name__ == "__main__":
    main()
