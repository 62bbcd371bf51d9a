"""Writes the NVIDIA Triton model repository of bench/serve_vs_peers.sh: one Python-backend model
`emnist` (bench/peers/triton_model.py) running the given ONNX file with onnxruntime.

    .venv/triton/bin/python bench/peers/triton_repo.py MODEL.onnx REPOSITORY BACKENDS [--intra-op-threads 1]

Run with the Python of the virtual environment the model should run in (.venv/triton, make
bench-peers-setup): it becomes the model's `EXECUTION_ENV_PATH`. With a folder there, Triton's
Python backend starts its stub as `source ENV/bin/activate && exec env
LD_LIBRARY_PATH=ENV/lib:$LD_LIBRARY_PATH STUB ...`; the stub embeds libpython, whose start-up
looks for `python3` on PATH, finds the venv's (and its pyvenv.cfg), and so imports the venv's
packages (onnxruntime, numpy). Triton looks for the stub in the Python backend's own folder, and
the wheel keeps one build per Python version apart (`pytriton/tritonserver/python_backend_stubs/
X.Y/`), so BACKENDS/python/ gets the backend's files (links into the wheel) and a copy of this
Python's stub, as PyTriton itself lays it out; tritonserver then runs with `--backend-directory
BACKENDS`. The stub links libpython3.X.so.1.0: bench/peers/tritonserver puts the venv's base
Python's LIBDIR first on the library path, so it is the same build as the venv's interpreter; this
script checks that every library the stub needs is found there.

Written: REPOSITORY/emnist/config.pbtxt (input `image` FP32 [-1, 784], outputs `logits` and
`probabilities` FP32 [-1, classes], `max_batch_size: 128`, `dynamic_batching {}`, one CPU
instance), REPOSITORY/emnist/1/model.py, and BACKENDS/python/.
"""

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig

import onnxruntime as ort
import pytriton

CONFIG = """name: "emnist"
backend: "python"
max_batch_size: 128
input [
  {{ name: "image", data_type: TYPE_FP32, dims: [ {pixels} ] }}
]
output [
  {{ name: "logits", data_type: TYPE_FP32, dims: [ {classes} ] }},
  {{ name: "probabilities", data_type: TYPE_FP32, dims: [ {classes} ] }}
]
dynamic_batching {{ }}
instance_group [ {{ kind: KIND_CPU, count: 1 }} ]
parameters {{ key: "EXECUTION_ENV_PATH", value: {{ string_value: "{env}" }} }}
parameters {{ key: "onnx_path", value: {{ string_value: "{onnx}" }} }}
parameters {{ key: "intra_op_threads", value: {{ string_value: "{threads}" }} }}
"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("repository")
    p.add_argument("backends", help="the folder for tritonserver's --backend-directory")
    p.add_argument("--intra-op-threads", type=int, default=1, help="onnxruntime intra-op threads (0: its default)")
    args = p.parse_args()
    onnx = os.path.abspath(args.model)
    sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    image = sess.get_inputs()[0]
    assert image.name == "image" and list(image.shape[1:]) == [1, 28, 28], f"unexpected input {image}"
    classes = {o.name: o.shape[1] for o in sess.get_outputs()}
    assert classes.get("logits") == classes.get("probabilities") and isinstance(classes["logits"], int), classes
    model = os.path.join(args.repository, "emnist")
    shutil.rmtree(model, ignore_errors=True)
    os.makedirs(os.path.join(model, "1"))
    with open(os.path.join(model, "config.pbtxt"), "w") as f:
        f.write(CONFIG.format(pixels=28 * 28, classes=classes["logits"], env=sys.prefix, onnx=onnx,
                              threads=args.intra_op_threads))
    shutil.copy(os.path.join(os.path.dirname(__file__), "triton_model.py"), os.path.join(model, "1", "model.py"))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    dist = os.path.join(os.path.dirname(pytriton.__file__), "tritonserver")
    stub = os.path.join(dist, "python_backend_stubs", version, "triton_python_backend_stub")
    if not os.path.exists(stub):
        sys.exit(f"error: nvidia-pytriton has no Python backend stub for Python {version} (`{stub}`)")
    backend = os.path.join(args.backends, "python")
    shutil.rmtree(backend, ignore_errors=True)
    os.makedirs(backend)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        os.symlink(os.path.join(dist, "backends", "python", name), os.path.join(backend, name))
    shutil.copy(stub, os.path.join(backend, "triton_python_backend_stub"))
    check_stub(os.path.join(backend, "triton_python_backend_stub"), os.path.dirname(os.path.dirname(pytriton.__file__)))


def check_stub(stub, site):
    """Exits with a hint when the stub would not find a library under bench/peers/tritonserver's library path."""
    libs = [os.path.join(site, "nvidia_pytriton.libs"), os.environ.get("LD_LIBRARY_PATH", "")]
    libdir = sysconfig.get_config_var("LIBDIR")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and os.path.exists(os.path.join(libdir, sysconfig.get_config_var("INSTSONAME"))):
        libs.insert(0, libdir)
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(x for x in libs if x))
    out = subprocess.run(["ldd", stub], env=env, capture_output=True, text=True, check=True).stdout
    missing = [line.split()[0] for line in out.splitlines() if "not found" in line]
    if missing:
        ver = sysconfig.get_config_var("VERSION")
        sys.exit(f"error: Triton's Python backend stub `{stub}` needs {', '.join(missing)}, which is not installed\n"
                 f"hint: install Debian's libpython{ver} (`apt-get install libpython{ver}`), or make .venv/triton "
                 f"from a Python built with a shared libpython")


if __name__ == "__main__":
    main()
