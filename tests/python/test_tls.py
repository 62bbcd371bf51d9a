"""`emnist serve --tls-cert --tls-key`: HTTPS and gRPC over TLS, checked by clients that verify the
certificate against a CA bundle (a throw-away CA from `trustme`): `requests`, `tritonclient.http`
and `tritonclient.grpc`. Plain connections to the TLS ports fail without harming the server, and
handshakes that stall are cut at the header timeout on both ports; bad files stop it at start with
a clear error.
"""

import signal
import ssl
import subprocess

import numpy as np
import pytest
import requests
import trustme
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from conftest import ROOT, start_server
from test_onnx import export, write_run


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": tmp / "ca.pem", "cert": tmp / "cert.pem", "key": tmp / "key.pem", "other_key": tmp / "other.pem"}
    ca.cert_pem.write_to_path(paths["ca"])
    paths["cert"].write_bytes(b"".join(p.bytes() for p in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(paths["key"])
    ca.issue_cert("elsewhere.example").private_key_pem.write_to_path(paths["other_key"])
    return paths


@pytest.fixture(scope="module")
def model(emnist_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    run = write_run(tmp / "dnn", "dnn", seed=51)
    onnx_path = tmp / "dnn.onnx"
    export(emnist_bin, run, onnx_path)
    return onnx_path


def test_https_and_grpc_over_tls_with_verifying_clients(emnist_bin, model, pki):
    proc, url = start_server(emnist_bin, ["--model", str(model), "--port", "0", "--grpc-port", "0",
                                          "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])])
    try:
        assert url.startswith("https://127.0.0.1:"), url
        host = url.removeprefix("https://")
        ca = str(pki["ca"])
        body = {"inputs": [{"name": "image", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
        r = requests.post(f"{url}/v2/models/emnist/infer", json=body, verify=ca)
        assert r.status_code == 200 and r.json()["outputs"][0]["shape"][0] == 1, r.text
        assert requests.get(f"{url}/v2/health/ready", verify=ca).status_code == 200
        # Not trusted without the CA; plain HTTP to the TLS port gets no answer; the server goes on.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{url}/v2", timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://{host}/v2", timeout=10)
        assert requests.get(f"{url}/v2", verify=ca).json()["name"] == "emnist"

        x = np.zeros((3, 784), np.uint8)
        h = thttp.InferenceServerClient(url=host, ssl=True,
                                        ssl_context_factory=lambda: ssl.create_default_context(cafile=ca))
        hin = thttp.InferInput("image", [3, 784], "UINT8")
        hin.set_data_from_numpy(x)
        over_https = h.infer("emnist", [hin]).as_numpy("probabilities")
        h.close()
        g = tgrpc.InferenceServerClient(url=proc.grpc_address, ssl=True, root_certificates=ca)
        assert g.is_server_live() and g.get_model_config("emnist").config.max_batch_size == 128
        gin = tgrpc.InferInput("image", [3, 784], "UINT8")
        gin.set_data_from_numpy(x)
        assert np.array_equal(g.infer("emnist", [gin]).as_numpy("probabilities"), over_https)
        g.close()
        plain = tgrpc.InferenceServerClient(url=proc.grpc_address)
        with pytest.raises(InferenceServerException):
            plain.is_server_live(client_timeout=5)
        plain.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_partial_tls_handshakes_are_closed_at_the_header_timeout_on_both_ports(emnist_bin, model, pki):
    """Half a ClientHello, then nothing: both ports close the connection once the header timeout
    has passed (the gRPC port used to hold them open for good)."""
    import socket
    import time

    proc, url = start_server(emnist_bin, ["--model", str(model), "--port", "0", "--grpc-port", "0",
                                          "--header-timeout-ms", "1000",
                                          "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])])
    try:
        http_addr = url.removeprefix("https://")
        hello_start = bytes.fromhex("16030100c8010000c40303") + b"\x00" * 8
        socks = []
        for addr in [http_addr, proc.grpc_address] * 10:
            host, port = addr.rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
            s.sendall(hello_start)
            s.settimeout(20)
            socks.append(s)
        t0 = time.monotonic()
        for s in socks:
            try:
                assert s.recv(4096) == b"", "closed without an answer"
            except ConnectionResetError:
                pass
            s.close()
        assert time.monotonic() - t0 < 20
        text = requests.get(f"{url}/metrics", verify=str(pki["ca"])).text
        assert 'emnist_connections_closed_total{reason="header_timeout"} 20' in text, text
        g = tgrpc.InferenceServerClient(url=proc.grpc_address, ssl=True, root_certificates=str(pki["ca"]))
        assert g.is_server_live()
        g.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_bad_tls_files_stop_the_start_with_a_clear_error(emnist_bin, model, pki, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = [
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(pki["key"])], 1, "cannot read the TLS certificate"),
        (["--tls-cert", str(junk), "--tls-key", str(pki["key"])], 1, "holds no certificate"),
        (["--tls-cert", str(pki["cert"]), "--tls-key", str(junk)], 1, "no usable PEM private key"),
        (["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["other_key"])], 1, "do not make a TLS identity"),
        (["--tls-cert", str(pki["cert"])], 2, "--tls-key"),
    ]
    for args, code, text in cases:
        done = subprocess.run([str(emnist_bin), "serve", "--model", str(model), "--port", "0", *args],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert done.returncode == code and text in done.stderr, (args, done.returncode, done.stderr)
