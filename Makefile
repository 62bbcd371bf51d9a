# The two commands that matter: `make demo` and `make test`. Both set everything up from nothing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# pip without its wheel cache: where pip caches downloads, torch's wheel and its CUDA libraries
# would stay on disk a second time beside the 5.3 GiB they take installed.
PIP_INSTALL := -m pip install -q --disable-pip-version-check --no-cache-dir
# Free disk .venv's first install needs at its peak: pip holds the downloaded wheels (about 3 GiB)
# until all are installed (torch alone: 4.6 GiB installed, about 7.4 GiB at the peak). Checked
# first, so a full disk is a one-line error instead of a half-installed .venv.
VENV_GIB := 8
# Debian packages: real Fashion-MNIST images for tests and the demo's second dataset; wrk, the
# load generator of the serving benchmark; curl, a client in the serving tests; Chromium and its
# WebDriver for the browser tests; libb64, which Triton's perf_analyzer links; podman and runc,
# which build and run the serving image (make image, tests/python/test_image.py).
APT_PACKAGES := dataset-fashion-mnist time wrk curl chromium chromium-driver libb64-0d podman runc

.PHONY: help setup apt venv build image demo test lint test-rust test-python fixtures protocol bench-load bench-train bench-serve bench-peers bench-peers-setup bench-soak bench-costs clean

help:
	@echo "make demo   set up, build, and run the pipeline end to end on the default dataset"
	@echo "make test   set up and run the whole test suite"
	@echo "make setup  only the setup: Debian packages, .venv with the pinned torch wheel, .libtorch link"
	@echo "make image  the serving image (podman): emnist-serve:<version>, MODEL=models/cnn-best.onnx inside"

setup: apt venv .libtorch

# Debian packages, installed only when missing.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The project's Python: the pinned torch wheel (libtorch for tch) and the test/bench tools.
# GraphPipe's own client (graphpipe 1.0.4) pins requests 2.18.4 and flatbuffers 1.9.0; it runs on
# the versions requirements.txt installs, so it goes in last, without its pins.
venv: $(VENV)/.stamp $(VENV)/perf/.stamp $(VENV)/kserve/.stamp
$(VENV)/.stamp: requirements.txt
	@[ -x $(PY) ] || { free=$$(df -Pk . | awk 'NR == 2 { print int($$4 / 1048576) }'); \
	  [ "$$free" -ge $(VENV_GIB) ] || { echo "error: installing .venv needs about $(VENV_GIB) GiB of free disk here (torch and its CUDA libraries); $$free GiB are free: free some and run make again" >&2; exit 1; }; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) $(PIP_INSTALL) -r requirements.txt
	$(PY) $(PIP_INSTALL) --no-deps graphpipe==1.0.4
	@touch $@

# The KServe SDK (its schema for InferenceService and ServingRuntime, for the deployment-files
# test) in a virtual environment of its own: its packages clash with tritonclient's and MLServer's.
$(VENV)/kserve/.stamp: tests/python/requirements-kserve.txt $(VENV)/.stamp
	@[ -x $(VENV)/kserve/bin/python ] || $(PYTHON) -m venv $(VENV)/kserve
	$(VENV)/kserve/bin/python $(PIP_INSTALL) -r tests/python/requirements-kserve.txt
	@touch $@

# Triton's load tool perf_analyzer, a C++ binary, in a folder of its own (scripts/perf_analyzer runs
# it). PyPI's `perf-analyzer` 2.58-2.60 wheels are manylinux_2_38 (Debian 12 has glibc 2.36; pip
# offers only a 0.1.0 placeholder), so it comes from the last tritonclient wheel that still ships
# it and runs on glibc 2.34: 2.51.0, without its Python dependencies (they would pin numpy < 2).
# It loads libcudart.so.12 (no GPU needed) and Debian's libb64.so.0d.
PERF_ANALYZER_WHEELS := tritonclient==2.51.0 nvidia-cuda-runtime-cu12==12.9.79
$(VENV)/perf/.stamp: $(VENV)/.stamp
	$(PY) $(PIP_INSTALL) --no-deps --target $(VENV)/perf $(PERF_ANALYZER_WHEELS)
	scripts/perf_analyzer --version
	@touch $@

# A stable path to the wheel's libtorch (include/ + lib/), named by .cargo/config.toml.
.libtorch: $(VENV)/.stamp
	ln -sfn "$$($(PY) -c 'import torch, os; print(os.path.dirname(torch.__file__))')" .libtorch
	@test -f .libtorch/lib/libtorch_cpu.so || { echo "error: .libtorch has no lib/libtorch_cpu.so"; exit 1; }

# Both executables: `emnist` (no libtorch) and `emnist-train` (libtorch), side by side in
# target/release, and onnxruntime's library from .venv beside them, where `emnist serve --engine
# auto` finds it wherever the folder is copied or started from.
build: setup
	$(CARGO) build --release --workspace
	cp -L "$$($(PY) -c 'import glob, os, onnxruntime; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so*")))[-1])')" target/release/

# The serving image (podman, or docker with ENGINE=docker): emnist-serve:<version> and :latest,
# holding MODEL at /models/model.onnx and onnxruntime's library beside the binary.
MODEL ?= models/cnn-best.onnx
image: build
	MODEL=$(MODEL) EMNIST_BIN=target/release/emnist bash deploy/image/build.sh

EMNIST := ./target/release/emnist
# A short demo run; `emnist train` defaults to the seed's 5 epochs.
DEMO_EPOCHS ?= 1

demo: build
	@echo "== 1. explore (default dataset: EMNIST under data/ if present, else the synthetic stand-in)"
	$(EMNIST) explore --out models/explore
	@echo "== 1b. explore Fashion-MNIST (real images, Debian's dataset-fashion-mnist)"
	$(EMNIST) explore --data /usr/share/datasets/fashion-mnist --out models/explore-fashion
	@echo "== 2. train the seed's two models and a CNN ($(DEMO_EPOCHS) epoch each, the seed's protocol); then the model"
	@echo "      the demo serves: the CNN with --recipe best (augmentation, one-cycle, smoothing, validation)"
	$(EMNIST) train --model linear --epochs $(DEMO_EPOCHS) --out models/linear --force
	$(EMNIST) train --model dnn --epochs $(DEMO_EPOCHS) --out models/dnn --force
	$(EMNIST) train --model cnn --epochs $(DEMO_EPOCHS) --out models/cnn --force
	bash scripts/train_demo_model.sh $(EMNIST) models/cnn-best
	$(EMNIST) compare models/linear models/dnn models/cnn models/cnn-best --out models/compare.png
	@echo "== 3. export each model to ONNX, checked with tract against its weights on 1,000 test images"
	$(EMNIST) export --onnx --model models/linear
	$(EMNIST) export --onnx --model models/dnn
	$(EMNIST) export --onnx --model models/cnn
	$(EMNIST) export --onnx --model models/cnn-best
	@echo "== 4. serve a model repository (GraphPipe, TF-Serving REST, KServe v2): the DNN as version 1, checked over"
	@echo "      every protocol; the best-recipe CNN exported into it as version 2 if it tests better, loaded live and checked"
	rm -rf models/repo
	$(EMNIST) export --onnx --model models/dnn --repository models/repo --as emnist
	bash scripts/serve_repo_and_query.sh $(EMNIST) models/repo models/cnn-best
	@echo "== 5. real handwriting (measured, never trained on): scikit-learn's 1,797 digits through /predict of each model"
	$(PY) bench/real_handwriting.py --emnist $(EMNIST) --json models/real_handwriting.json \
	  linear=models/linear.onnx dnn=models/dnn.onnx cnn=models/cnn.onnx cnn-best=models/cnn-best.onnx
	@echo "== 6. the notebooks' equivalent: one HTML page from everything above"
	$(EMNIST) report --models models --out reports/index.html
	@echo "report: $$(pwd)/reports/index.html"

test: setup lint test-rust test-python

# Checks that keep the code clean: formatting (rustfmt.toml; generated code is skipped), clippy with
# every warning an error, the API docs with warnings denied, the crate boundaries (`cargo tree`:
# libtorch only in the trainer, no server or engine in it, ...) and no cycle between modules.
lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
	CARGO=$(CARGO) bash scripts/lint/boundaries.sh
	python3 scripts/lint/module_cycles.py

# Every crate's tests; they build both executables, which the Python tests then use.
test-rust:
	$(CARGO) test --workspace

# Independent consumers of `emnist export --onnx` (onnx's checker, onnxruntime vs PyTorch) and
# third-party clients of `emnist serve` (graphpipe, tritonclient, TF-Serving REST over requests).
# EMNIST_BIN: the binary `cargo test --workspace` just built, with `emnist-train` beside it.
test-python: venv
	EMNIST_BIN=target/debug/emnist $(PY) -m pytest -q tests/python

# Regenerate the GraphPipe flatbuffers code from its schema (needs `cargo install planus-cli --version 1.3.0`).
protocol:
	planus rust -o crates/emnist-serve/src/protocol/graphpipe_generated.rs crates/emnist-serve/src/protocol/graphpipe.fbs

# Regenerate the committed fixtures with the independent writer (scipy).
fixtures: venv
	$(PY) tests/fixtures/make_fixtures.py

# The load benchmark: our decode vs scipy.io.loadmat on a full-size byclass-shaped file.
bench-load: build
	bash bench/load_vs_scipy.sh

# The training benchmark: emnist train vs plain PyTorch loops, same DNN and data.
bench-train: build
	bash bench/train_vs_pytorch.sh

# The serving benchmarks (need `make demo`'s models/dnn.onnx and models/cnn.onnx): emnist serve vs
# Flask + onnxruntime under wrk, batch-128 rows/s by protocol, tract vs onnxruntime alone.
bench-serve: setup
	bash bench/serve_vs_flask.sh
	bash bench/serve_protocols.sh
	bash bench/engine_vs_ort.sh

# emnist serve side by side with NVIDIA Triton, BentoML, Seldon MLServer, KServe's Python server and
# Flask (REST and gRPC, one image and batches of 128, 32 connections; needs `make demo`'s
# models/dnn.onnx). The peers live in virtual environments of their own (their gRPC modules and
# numpy pins clash in one process); h2load (Debian nghttp2-client) is the gRPC load generator.
# Triton is the server binary and Python backend that the nvidia-pytriton wheel ships (run by
# bench/peers/tritonserver); its model runs in .venv/triton's Python with onnxruntime.
bench-peers-setup: setup $(VENV)/mlserver/.stamp $(VENV)/kserve-server/.stamp $(VENV)/triton/.stamp $(VENV)/bentoml/.stamp
	@dpkg -s nghttp2-client >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nghttp2-client >/dev/null; }
$(VENV)/mlserver/.stamp: bench/peers/requirements-mlserver.txt
	@[ -x $(VENV)/mlserver/bin/python ] || $(PYTHON) -m venv $(VENV)/mlserver
	$(VENV)/mlserver/bin/python $(PIP_INSTALL) -r $<
	@touch $@
$(VENV)/kserve-server/.stamp: bench/peers/requirements-kserve.txt
	@[ -x $(VENV)/kserve-server/bin/python ] || $(PYTHON) -m venv $(VENV)/kserve-server
	$(VENV)/kserve-server/bin/python $(PIP_INSTALL) -r $<
	@touch $@
$(VENV)/triton/.stamp: bench/peers/requirements-triton.txt
	@[ -x $(VENV)/triton/bin/python ] || $(PYTHON) -m venv $(VENV)/triton
	$(VENV)/triton/bin/python $(PIP_INSTALL) -r $<
	@# The Python backend's stub links the venv Python's shared libpython: Debian ships it apart.
	@lib=$$($(VENV)/triton/bin/python -c 'import sysconfig as s, sys, os; d = s.get_config_var("LIBDIR"); n = s.get_config_var("INSTSONAME"); print("" if os.path.isfile(os.path.join(d, n)) else "libpython%d.%d" % sys.version_info[:2])'); \
	if [ -n "$$lib" ]; then $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$lib >/dev/null; fi
	@out=$$(bench/peers/tritonserver --help 2>&1 || true); grep -q -- --model-repository <<<"$$out" \
	  || { echo "error: tritonserver does not start:"; echo "$$out" | tail -5; exit 1; }
	@touch $@
$(VENV)/bentoml/.stamp: bench/peers/requirements-bentoml.txt
	@[ -x $(VENV)/bentoml/bin/python ] || $(PYTHON) -m venv $(VENV)/bentoml
	$(VENV)/bentoml/bin/python $(PIP_INSTALL) -r $<
	@touch $@
bench-peers: bench-peers-setup
	bash bench/serve_vs_peers.sh

# The reliability soak (needs `make demo`'s models/dnn.onnx): saturation plus slow, idle, oversized
# and vanishing clients for 60 s, then 32 concurrent valid bodies near the limit.
bench-soak: setup
	bash bench/soak.sh

# What every command costs (start-up, serving memory, first and cached load), side by side with
# baselines (needs `make demo`'s models/dnn.onnx).
bench-costs: build
	bash bench/costs.sh

clean:
	$(CARGO) clean
	rm -rf $(VENV) .libtorch
