#!/usr/bin/env python3
"""Seeds fuzz/corpus/{mat,idx} from the committed fixtures in tests/fixtures (standard library only).

mat: every .mat fixture, plus a copy of each whose miCOMPRESSED elements are inflated into plain
miMATRIX elements, so the fuzzer reaches the array parser without first having to keep a zlib
stream valid. idx: every .gz idx fixture, its decompressed form, and the mapping .txt files.
Re-running is harmless: files are overwritten, the fuzzer's own corpus entries are kept.
"""
import gzip
import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "fuzz" / "corpus"


def inflate_mat(data: bytes):
    """The same MAT v5 file with compressed top-level elements stored uncompressed, or None."""
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        return None
    order = "<" if data[126:128] == b"IM" else ">"
    out, pos, changed = bytearray(data[:128]), 128, False
    while pos + 8 <= len(data):
        ty, n = struct.unpack(order + "II", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if ty == 15:
            try:
                inner = zlib.decompress(body)
            except zlib.error:
                return None
            out += inner + b"\0" * (-len(inner) % 8)
            changed = True
        else:
            out += data[pos : pos + 8 + n] + b"\0" * (-n % 8 if ty == 14 else 0)
        pos += 8 + n + (-n % 8 if ty == 14 else 0)
    return bytes(out) if changed else None


def gunzip_partial(data: bytes) -> bytes:
    """Decompresses as much as possible (the truncated-gz fixtures end mid-stream)."""
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            return d.decompress(data)
        except zlib.error:
            return b""


def main():
    mat, idx = CORPUS / "mat", CORPUS / "idx"
    mat.mkdir(parents=True, exist_ok=True)
    idx.mkdir(parents=True, exist_ok=True)
    for f in sorted(FIXTURES.glob("*.mat")):
        data = f.read_bytes()
        (mat / f.name).write_bytes(data)
        plain = inflate_mat(data)
        if plain is not None:
            (mat / (f.stem + ".uncompressed.mat")).write_bytes(plain)
    for f in sorted(FIXTURES.rglob("*")):
        if not f.is_file() or not (f.name.endswith(".gz") or f.name.endswith("mapping.txt")):
            continue
        name = "-".join(f.relative_to(FIXTURES).parts)
        data = f.read_bytes()
        (idx / name).write_bytes(data)
        if f.name.endswith(".gz"):
            raw = gunzip_partial(data)
            if raw:
                (idx / name[: -len(".gz")]).write_bytes(raw)
    for d in (mat, idx):
        files = list(d.iterdir())
        print(f"{d.relative_to(ROOT)}: {len(files)} files, {sum(p.stat().st_size for p in files)} bytes")


if __name__ == "__main__":
    main()
