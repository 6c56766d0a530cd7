#!/usr/bin/env bash
# `make shell`: talk to the bot in the terminal, with the action server that
# `make run` started (ACTION_SERVER_URL) and the same Redis.
set -euo pipefail
. "$(dirname "$0")/env.sh"
model="$MODEL_DIR/isp-$(model_fingerprint).tar.gz"
[ -f "$model" ] || .venv/bin/rasa train --out "$MODEL_DIR" --fixed-model-name "$(basename "$model" .tar.gz)"
exec .venv/bin/rasa shell --model "$model" --endpoints endpoints.yml --port "${SHELL_PORT:-5006}"
