# emnist serve in a small runtime image: no libtorch, no Python.
#
#   docker build -t emnist-serve:0.1.0 --build-arg MODEL=models/dnn.onnx .
#   docker run --rm -p 9000:9000 emnist-serve:0.1.0
#
# MODEL is an ONNX file written by `emnist export --onnx` (run `make demo` first for models/dnn.onnx).

# Stage 1: `emnist` alone (the crate crates/emnist: explore, export, serve, query; no libtorch,
# which only the training companion `emnist-train` links, and that is not built here).
FROM rust:1.92-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p emnist --bin emnist \
 && strip target/release/emnist

# Stage 2: the runtime image (the HEALTHCHECK is `emnist health`: no curl needed).
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home emnist
ARG MODEL=models/dnn.onnx
COPY --from=build /src/target/release/emnist /usr/local/bin/emnist
COPY ${MODEL} /models/model.onnx
USER 10001
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["emnist", "health", "--live", "--url", "http://127.0.0.1:9000", "--timeout-ms", "2500"]
ENTRYPOINT ["emnist", "serve"]
# Kubernetes `args` replace these: give them all there (see deploy/kubernetes.yaml).
CMD ["--model", "/models/model.onnx", "--host", "0.0.0.0", "--port", "9000"]
