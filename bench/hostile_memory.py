"""Peak and kept RSS of `emnist serve` under the reliability issue's hostile uploads (round two):

    .venv/bin/python bench/hostile_memory.py EMNIST_BIN MODE N [MODEL]     (MODEL: models/dnn.onnx)

MODE chunked: N concurrent chunked uploads of 20 MB (1 MB chunks) to /v2/models/emnist/infer,
              over the 16 MiB `--max-body`.
MODE bigpng:  N concurrent POST /predict of an 8000x8000 grey PNG (76 KB compressed).
MODE iccp:    N concurrent POST /predict of a 40x40 PNG whose iCCP chunk inflates to 480 MiB.
Prints the answers' statuses, RSS idle, peak (sampled every 10 ms and VmHWM), 1 s after, and
the wall time. The server runs with `--engine tract` (no library needed)."""
import os, socket, subprocess, sys, threading, time, zlib, struct

from ready_file import start_serve

bin_, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
MODEL = sys.argv[4] if len(sys.argv) > 4 else "models/dnn.onnx"
proc, ready = start_serve([bin_, "serve", "--port", "0", "--engine", "tract", "--model", MODEL],
                          stdout=subprocess.DEVNULL)
port = int(ready["http"].rsplit(":", 1)[1])

def rss_kb(kind):
    for l in open(f"/proc/{proc.pid}/status"):
        if l.startswith(kind):
            return int(l.split()[1])

time.sleep(0.5)
idle = rss_kb("VmRSS:")
peak = [idle]
stop = False
def sample():
    while not stop:
        peak[0] = max(peak[0], rss_kb("VmRSS:")); time.sleep(0.01)
threading.Thread(target=sample, daemon=True).start()

def png_8000():
    raw = zlib.compress(b"\0" * (8001 * 8000), 9)  # rows of filter 0 + black pixels
    def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 8000, 8, 0, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")

statuses = []
def chunked():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v2/models/emnist/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"1" * (1 << 20)
    try:
        for _ in range(20):
            s.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    try:
        statuses.append(s.recv(64).split(b" ")[1].decode())
    except Exception as e:
        statuses.append("reset")
    s.close()

def png_iccp():
    def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    c = zlib.compressobj(9); prof = b"".join(c.compress(b"\0" * (1 << 24)) for _ in range(30)) + c.flush()
    rows = b"".join(b"\0" + bytes(255 if not (15 <= x < 25) else 0 for x in range(40)) for _ in range(40))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 40, 40, 8, 0, 0, 0, 0)) + chunk(b"iCCP", b"evil\0\0" + prof) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
body = png_8000() if mode == "bigpng" else png_iccp() if mode == "iccp" else None
def bigpng():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    statuses.append(s.recv(4096).split(b" ")[1].decode()); s.close()

t0 = time.time()
ts = [threading.Thread(target=chunked if mode == "chunked" else bigpng) for _ in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
took = time.time() - t0
time.sleep(1.0)
after = rss_kb("VmRSS:")
stop = True
hwm = rss_kb("VmHWM:")
proc.terminate(); proc.wait()
from collections import Counter
print(f"{mode} x{n}: statuses {dict(Counter(statuses))}; RSS idle {idle/1024:.0f} MB, peak {max(peak[0], hwm)/1024:.0f} MB (VmHWM {hwm/1024:.0f}), 1 s after {after/1024:.0f} MB; {took:.2f} s")
