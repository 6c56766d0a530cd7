#!/usr/bin/env bash
# `make train`: train a model for the current data unless one exists already.
set -euo pipefail
. "$(dirname "$0")/env.sh"
model="$MODEL_DIR/isp-$(model_fingerprint).tar.gz"
if [ -f "$model" ]; then echo "train: $model is up to date" >&2; exit 0; fi
exec .venv/bin/rasa train --out "$MODEL_DIR" --fixed-model-name "$(basename "$model" .tar.gz)"
