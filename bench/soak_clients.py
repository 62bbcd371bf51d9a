"""The hostile half of bench/soak.sh: misbehaving clients of every kind the reliability issue
found, run against `emnist serve` for a fixed time while wrk keeps the server saturated with
well-behaved requests. Prints one JSON object: what each kind of client saw, by outcome.

    python bench/soak_clients.py HOST PORT SECONDS BODY_FILE [GRPC_PORT]

Kinds (counts are concurrent clients, each reconnecting when its connection ends):
  slow_head   200  trickle a request head, one header line every 2 s
  slow_body   100  declare a 10,000-byte JSON body, send a byte a second (the server answers 408)
  idle        100  connect and send nothing
  oversized    16  send a whole 20 MB body over the server's 16 MiB limit (the server answers 413)
  gone          8  send a valid 128-image request and hang up without reading the answer
With GRPC_PORT, on the gRPC port too (HTTP/2 frames written by hand, headers as literal HPACK):
  grpc_silent       200  send the HTTP/2 preface and SETTINGS, then nothing
  grpc_idle          50  make one ServerLive call, then send nothing
  grpc_slow_message 100  open a ModelInfer declaring a 10,000-byte message, send a byte a second
"""

import asyncio
import collections
import json
import sys
import time

HOST, PORT, SECONDS, BODY_FILE = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
GRPC_PORT = int(sys.argv[5]) if len(sys.argv) > 5 else None
DEADLINE = time.monotonic() + SECONDS
SEEN = collections.defaultdict(collections.Counter)


def left():
    return DEADLINE - time.monotonic()


async def status_of(reader, timeout):
    """The status code of the answer, '' if the server closed without one."""
    line = await asyncio.wait_for(reader.readline(), timeout)
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 else ""


async def until_closed(reader, timeout):
    """Reads until the server closes; the status line if any."""
    first = b""
    try:
        while left() > 0:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                break
            first = first or chunk
    except asyncio.TimeoutError:
        return "still open"
    parts = first.split(b"\r\n", 1)[0].split()
    return parts[1].decode() if len(parts) > 1 else "closed, no answer"


async def client(kind, once, port=PORT):
    while left() > 0:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as e:
            SEEN[kind][f"connect failed: {type(e).__name__}"] += 1
            await asyncio.sleep(0.2)
            continue
        try:
            outcome = await once(reader, writer)
        except (ConnectionError, BrokenPipeError) as e:
            outcome = f"reset: {type(e).__name__}"
        except asyncio.TimeoutError:
            outcome = "timed out on our side"
        finally:
            writer.close()
        SEEN[kind][outcome] += 1


async def slow_head(reader, writer):
    t0 = time.monotonic()
    writer.write(b"POST /v1/models/emnist:predict HTTP/1.1\r\nHost: soak\r\n")
    await writer.drain()
    for i in range(60):
        await asyncio.sleep(2)
        if left() <= 0:
            return "soak over"
        if reader.at_eof():
            return f"closed by the server after {int(time.monotonic() - t0) // 2 * 2}-{int(time.monotonic() - t0) // 2 * 2 + 2} s"
        writer.write(f"X-Slow-{i}: 1\r\n".encode())
        await writer.drain()
    return "never closed (120 s)"


async def slow_body(reader, writer):
    writer.write(b"POST /v1/models/emnist:predict HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 10000\r\n\r\n")
    await writer.drain()
    sent = 0
    while left() > 0 and sent < 10000:
        writer.write(b"[")
        await writer.drain()
        sent += 1
        try:
            return await status_of(reader, 1.0)
        except asyncio.TimeoutError:
            pass
    return "soak over"


async def idle(reader, writer):
    return await until_closed(reader, max(left(), 0.1))


OVERSIZED = b"[" + b"0," * (10 << 20) + b"0]"  # 20 MiB of JSON


async def oversized(reader, writer):
    writer.write(b"POST /v1/models/emnist:predict HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(OVERSIZED)}\r\n\r\n".encode())
    writer.write(OVERSIZED)
    await writer.drain()
    return await status_of(reader, 30)


BATCH = open(BODY_FILE, "rb").read()


async def gone(reader, writer):
    writer.write(b"POST /v2/models/emnist/infer HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(BATCH)}\r\n\r\n".encode() + BATCH)
    await writer.drain()
    await asyncio.sleep(0.001)
    return "hung up"


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def call_headers(rpc):
    """A HEADERS frame (END_HEADERS) opening stream 1 for `rpc`: literal fields, no Huffman."""
    fields = [(":method", "POST"), (":scheme", "http"), (":path", f"/inference.GRPCInferenceService/{rpc}"),
              (":authority", "soak"), ("content-type", "application/grpc"), ("te", "trailers")]
    block = b"".join(b"\x00" + bytes([len(k)]) + k.encode() + bytes([len(v)]) + v.encode() for k, v in fields)
    return frame(0x1, 0x4, 1, block)


async def h2_outcome(reader, timeout):
    """Reads frames until the server closes: what it said (a GOAWAY, an answer on stream 1)."""
    said = "closed"
    try:
        while left() > 0:
            head = await asyncio.wait_for(reader.readexactly(9), timeout)
            length, kind, flags = int.from_bytes(head[:3], "big"), head[3], head[4]
            payload = await asyncio.wait_for(reader.readexactly(length), timeout)
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            if kind == 0x7:
                said = "GOAWAY: " + payload[8:].decode(errors="replace")[:60] if len(payload) > 8 else "GOAWAY"
            elif kind == 0x1 and stream == 1 and flags & 0x1:
                said = "answered on its own (trailers-only)"
            elif kind == 0x6 and not flags & 0x1:
                await asyncio.sleep(0)  # a PING: the server checks we are alive
    except asyncio.IncompleteReadError:
        pass
    except asyncio.TimeoutError:
        return "still open"
    return said


async def grpc_silent(reader, writer):
    writer.write(PREFACE + frame(0x4, 0, 0, b""))
    await writer.drain()
    return await h2_outcome(reader, max(left(), 0.1))


async def grpc_idle(reader, writer):
    writer.write(PREFACE + frame(0x4, 0, 0, b"") + call_headers("ServerLive") + frame(0x0, 0x1, 1, b"\0\0\0\0\0"))
    await writer.drain()
    return await h2_outcome(reader, max(left(), 0.1))


async def grpc_slow_message(reader, writer):
    writer.write(PREFACE + frame(0x4, 0, 0, b"") + call_headers("ModelInfer")
                 + frame(0x0, 0, 1, b"\0" + (10000).to_bytes(4, "big")))
    await writer.drain()
    watcher = asyncio.create_task(h2_outcome(reader, max(left(), 0.1)))
    sent = 0
    while left() > 0 and sent < 10000 and not watcher.done():
        writer.write(frame(0x0, 0, 1, b"\x08"))
        await writer.drain()
        sent += 1
        await asyncio.wait([watcher], timeout=1.0)
    if not watcher.done():
        watcher.cancel()
        return "soak over"
    return await watcher


async def main():
    kinds = {"slow_head": (200, slow_head), "slow_body": (100, slow_body), "idle": (100, idle),
             "oversized": (16, oversized), "gone": (8, gone)}
    tasks = [asyncio.create_task(client(k, f)) for k, (n, f) in kinds.items() for _ in range(n)]
    if GRPC_PORT:
        grpc_kinds = {"grpc_silent": (200, grpc_silent), "grpc_idle": (50, grpc_idle),
                      "grpc_slow_message": (100, grpc_slow_message)}
        tasks += [asyncio.create_task(client(k, f, GRPC_PORT)) for k, (n, f) in grpc_kinds.items() for _ in range(n)]
    await asyncio.sleep(SECONDS)
    await asyncio.sleep(2)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({k: dict(v) for k, v in SEEN.items()}, sort_keys=True))


asyncio.run(main())
