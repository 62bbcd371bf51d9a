"""The deployment files, checked without a Docker engine or a cluster: deploy/kubernetes.yaml
parses and says what it should (probes on the KServe v2 health routes, resources, autoscaling, a
KServe InferenceService), the Dockerfile is a two-stage build of the binary without libtorch, and
every `emnist serve` command line in them is one the binary accepts (it is started with each and
must answer on the health route the probes use).
"""

import json
import signal
import subprocess
import urllib.request

import kubernetes_validate
import pytest
import yaml

from conftest import start_server
from test_onnx import ROOT, export, write_run

DEPLOY = ROOT / "deploy" / "kubernetes.yaml"
DOCKERFILE = ROOT / "Dockerfile"


def documents():
    return {d["kind"]: d for d in yaml.safe_load_all(DEPLOY.read_text())}


KUBERNETES = "1.33"


def test_core_manifests_validate_against_the_kubernetes_schemas():
    """kubernetes-validate holds the OpenAPI schemas of each Kubernetes release (offline); strict:
    unknown fields are errors too, as `kubectl apply --validate=strict` has them."""
    core = {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for kind, doc in documents().items():
        if kind in core:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(documents()["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/v2/health/ready"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


KSERVE_PY = ROOT / ".venv" / "kserve" / "bin" / "python"
KSERVE_VALIDATE = ROOT / "tests" / "python" / "kserve_validate.py"


def kserve_validate(path):
    assert KSERVE_PY.exists(), "the KServe SDK's virtual environment is missing: run `make setup`"
    return subprocess.run([str(KSERVE_PY), str(KSERVE_VALIDATE), str(path)], capture_output=True, text=True,
                          timeout=120)


def test_kserve_manifests_validate_against_kserves_own_schema(tmp_path):
    """InferenceService and ServingRuntime against the schema of KServe's SDK (tests/python/
    kserve_validate.py, in its own virtual environment), strict; and broken copies are refused."""
    done = kserve_validate(DEPLOY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "InferenceService emnist: valid" in done.stdout and "ServingRuntime emnist-runtime: valid" in done.stdout
    docs = documents()
    rt = docs["ServingRuntime"]
    assert rt["spec"]["protocolVersions"] == ["v2", "grpc-v2"]
    args = rt["spec"]["containers"][0]["args"]
    assert args[args.index("--grpc-port") + 1] == "8081" and args[args.index("--port") + 1] == "8080"
    breakages = [
        (lambda d: d["InferenceService"]["spec"]["predictor"]["containers"][0].update(imagePullPolicyy="Always"),
         "imagePullPolicyy: not a field"),
        (lambda d: d["ServingRuntime"]["spec"].update(protocolVersions="v2"), "expected a list"),
        (lambda d: d["ServingRuntime"]["spec"]["containers"][0].pop("name"), "name"),
        (lambda d: d["InferenceService"]["spec"]["predictor"].update(minReplicas="one"), "expected int"),
    ]
    for i, (breaks, text) in enumerate(breakages):
        d = documents()
        breaks(d)
        bad = tmp_path / f"bad-{i}.yaml"
        bad.write_text(yaml.safe_dump_all([d["InferenceService"], d["ServingRuntime"]]))
        done = kserve_validate(bad)
        assert done.returncode == 1 and text in done.stdout, (text, done.stdout, done.stderr)


def test_kubernetes_manifests():
    docs = documents()
    assert set(docs) == {"Deployment", "Service", "HorizontalPodAutoscaler", "InferenceService", "ServingRuntime"}
    dep = docs["Deployment"]
    assert dep["apiVersion"] == "apps/v1"
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 9000, "grpc": 8001}
    assert c["args"][c["args"].index("--grpc-port") + 1] == "8001"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert dep["spec"]["selector"]["matchLabels"] == dep["spec"]["template"]["metadata"]["labels"]
    svc = docs["Service"]
    assert svc["spec"]["selector"] == dep["spec"]["template"]["metadata"]["labels"]
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    isvc = docs["InferenceService"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    (k,) = isvc["spec"]["predictor"]["containers"]
    assert k["image"] == c["image"]
    assert k["ports"][0]["containerPort"] == 8080


def dockerfile():
    text = DOCKERFILE.read_text()
    lines = [l for l in text.replace("\\\n", " ").splitlines() if l.strip() and not l.lstrip().startswith("#")]
    return text, lines


def test_dockerfile_is_a_small_two_stage_build():
    text, lines = dockerfile()
    froms = [l for l in lines if l.startswith("FROM ")]
    assert len(froms) == 2 and " AS build" in froms[0]
    assert "-p emnist --bin emnist" in text, "the runtime image carries no libtorch: only `emnist` is built"
    assert "emnist-train" not in " ".join(lines), "the trainer (libtorch) stays out of the image"
    assert "torch" not in froms[1] and "python" not in text.lower().split("from debian")[1]
    assert any(l.startswith("COPY --from=build") for l in lines)
    health = next(l for l in lines if l.startswith("HEALTHCHECK"))
    # Liveness, not readiness: readiness is false while saturated, and an unhealthy container is
    # restarted. Asked by the binary itself (`emnist health`): no curl in the image.
    check = json.loads(health.split("CMD", 1)[1])
    assert check[:3] == ["emnist", "health", "--live"], check
    assert not any("curl" in l for l in lines)
    entry = json.loads(next(l for l in lines if l.startswith("ENTRYPOINT")).split(None, 1)[1])
    assert entry == ["emnist", "serve"]


def serve_args():
    """Every `emnist serve` argument list the deployment files hold."""
    _, lines = dockerfile()
    cmd = json.loads(next(l for l in lines if l.startswith("CMD")).split(None, 1)[1])
    docs = documents()
    dep = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    kserve = docs["InferenceService"]["spec"]["predictor"]["containers"][0]["args"]
    runtime = docs["ServingRuntime"]["spec"]["containers"][0]["args"]
    return {"Dockerfile CMD": cmd, "Deployment": dep, "InferenceService": kserve, "ServingRuntime": runtime}


@pytest.mark.parametrize("where", ["Dockerfile CMD", "Deployment", "InferenceService", "ServingRuntime"])
def test_the_serve_command_lines_work(emnist_bin, tmp_path, where):
    args = serve_args()[where]
    run = write_run(tmp_path / "dnn", "dnn", seed=3)
    model = tmp_path / "model.onnx"
    export(emnist_bin, run, model)
    # The image's paths and port, mapped onto this machine: the model file, loopback, a free port.
    args = [str(model) if a in ("/models/model.onnx", "/mnt/models/model.onnx") else a for a in args]
    args = ["127.0.0.1" if a == "0.0.0.0" else a for a in args]
    port_at = args.index("--port") + 1
    args[port_at] = "0"
    if "--grpc-port" in args:
        args[args.index("--grpc-port") + 1] = "0"
    proc, url = start_server(emnist_bin, args)
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=10) as r:
            assert r.status == 200 and json.load(r)["ready"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
