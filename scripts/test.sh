#!/usr/bin/env bash
# `make test`: every test, end-to-end ones included (real Rasa, action server, Redis).
set -euo pipefail
. "$(dirname "$0")/env.sh"
exec .venv/bin/python -m pytest "$@"
