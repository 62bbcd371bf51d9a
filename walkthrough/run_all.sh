#!/usr/bin/env bash
# The seed's steps in order: explore → train → compare → export → serve → query.
#   EPOCHS=1 bash walkthrough/run_all.sh       # a quick pass on the default dataset
#   DATA=data/emnist-byclass.mat bash walkthrough/run_all.sh
set -euo pipefail
here=$(dirname "$0")
for s in "$here"/0*.sh; do
  bash "$s"
done
