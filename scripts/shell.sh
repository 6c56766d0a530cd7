#!/usr/bin/env bash
# `make shell`: talk to the bot in the terminal, with the action server that
# `make run` started (ACTION_SERVER_URL) and the same Redis.
set -euo pipefail
. "$(dirname "$0")/env.sh"
if [ -z "${ACTION_SERVER_TOKEN:-}" ]; then
  echo "shell: set ACTION_SERVER_TOKEN to the token of the running action server" \
       "(the one \`make run\` printed, or pin one in .env for both)" >&2
  exit 2
fi
model="$MODEL_DIR/isp-$(model_fingerprint).tar.gz"
[ -f "$model" ] || .venv/bin/rasa train --out "$MODEL_DIR" --fixed-model-name "$(basename "$model" .tar.gz)"
exec .venv/bin/rasa shell --model "$model" --endpoints endpoints.yml --port "${SHELL_PORT:-5006}"
