#!/usr/bin/env bash
# Notebooks 3 (second half), 4 and 6: deploy the DNN behind GraphPipe, TF-Serving REST and KServe v2
# at once, and validate the deployment by querying it with test data over every protocol.
source "$(dirname "$0")/common.sh"
step "serve $OUT/dnn.onnx and query it over every protocol"
bash scripts/serve_and_query.sh "$EMNIST" "$OUT/dnn.onnx" "${DATA_FLAGS[@]}"
