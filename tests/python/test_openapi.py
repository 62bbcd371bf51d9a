"""The OpenAPI document of `emnist serve` (`GET /openapi.json`, committed as
crates/emnist-serve/assets/openapi.json): valid by an independent validator
(`openapi-spec-validator`), served as committed, every documented route answers on a live server
with one of its documented statuses, and every route the router declares is documented.
"""

import io
import json
import re
import signal

import numpy as np
import requests
from openapi_spec_validator import validate
from PIL import Image

from conftest import ROOT, start_server
from test_onnx import export, write_run

DOC = ROOT / "crates/emnist-serve/assets/openapi.json"
ROUTER = ROOT / "crates/emnist-serve/src/server/mod.rs"


def png():
    buf = io.BytesIO()
    img = np.full((28, 28), 255, np.uint8)
    img[4:24, 12:16] = 0
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def request_for(method, path):
    """A request that exercises the route: valid where a body is needed."""
    one = {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
    if method == "post" and path.endswith("/infer"):
        return {"json": one}
    if method == "post" and path.endswith(":predict"):
        return {"json": {"instances": [[0.0] * 784]}}
    if path == "/predict":
        return {"data": png(), "headers": {"content-type": "image/png"}}
    if method == "post" and path == "/":
        return {"data": b"not a flatbuffer"}
    return {}


def test_the_document_is_valid_and_served_as_committed(emnist_bin, tmp_path):
    doc = json.loads(DOC.read_text())
    validate(doc)
    run = write_run(tmp_path / "dnn", "dnn", seed=61)
    onnx_path = tmp_path / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    proc, url = start_server(emnist_bin, ["--model", str(onnx_path), "--port", "0"])
    try:
        served = requests.get(f"{url}/openapi.json")
        assert served.status_code == 200 and served.headers["content-type"] == "application/json"
        assert served.json() == doc
        for path, ops in doc["paths"].items():
            concrete = path.replace("{model}", "emnist").replace("{version}", "1")
            for method, op in ops.items():
                r = requests.request(method.upper(), url + concrete, timeout=30, **request_for(method, path))
                assert str(r.status_code) in op["responses"], (method, path, r.status_code, r.text[:200])
                assert "no route for" not in r.text, (method, path)
                if method == "get" or not path == "/":
                    assert r.status_code < 500, (method, path, r.status_code)
        # Undocumented paths are not answered.
        for path in ("/v3", "/v2/models/emnist/stats", "/v1/models/emnist:classify", "/admin"):
            assert requests.get(url + path).status_code == 404, path
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def axum_to_regex(route):
    """`/v2/models/{*rest}` → a regex over documented paths (a wildcard takes the rest)."""
    out = re.escape(route)
    out = re.sub(r"\\\{\\\*[a-z_]+\\\}", r".+", out)
    out = re.sub(r"\\\{[a-z_]+\\\}", r"[^/]+", out)
    return re.compile(f"^{out}$")


def test_every_route_the_router_declares_is_documented():
    doc = json.loads(DOC.read_text())
    source = ROUTER.read_text()
    router = source[source.index("pub fn router("):]
    router = router[: router.index("\n}\n")]
    declared = re.findall(r'\.route\("([^"]+)",\s*([^)]*\)(?:\.[a-z]+\([^)]*\))*)\)', router)
    assert len(declared) >= 10, declared
    for route, handlers in declared:
        methods = set(re.findall(r"\b(get|post)\(", handlers))
        pattern = axum_to_regex(route)
        documented = {m for p, ops in doc["paths"].items() if pattern.match(p) for m in ops}
        assert methods <= documented, (route, methods, documented)
    # And each documented path belongs to a declared route.
    patterns = [axum_to_regex(r) for r, _ in declared]
    for path in doc["paths"]:
        assert any(p.match(path) for p in patterns), path
