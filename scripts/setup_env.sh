#!/usr/bin/env bash
# Part of `make setup`, after the .venv exists: this checkout's secrets and the
# hook that lets plain `.venv/bin/rasa ...` read them (README, Credentials).
# Safe to repeat: an existing .env keeps its lines; a missing secret is added.
set -euo pipefail
cd "$(dirname "$0")/.."

# Plain `.venv/bin/rasa ...` reads this checkout's .env for the variables not
# set (scripts/env_hook.py; ISP_ENV_FILE=/dev/null turns it off). README, Credentials.
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
hook='import os, sys; _hook = os.path.join(os.path.dirname(os.path.abspath(sys.prefix)), "scripts", "env_hook.py"); os.path.isfile(_hook) and exec(compile(open(_hook).read(), _hook, "exec"), {"__file__": _hook, "__name__": "isp_env_hook"})'
if [ "$(cat "$site/isp_checkout_env.pth" 2>/dev/null)" != "$hook" ]; then
  echo "$hook" > "$site/isp_checkout_env.pth"
fi

# Secrets of this checkout, generated once into .env (0600, git-ignored):
# Rasa sends ACTION_SERVER_TOKEN to the action server (endpoints.yml) and
# `make run` protects Rasa's HTTP API with RASA_API_TOKEN. Existing lines stay.
umask 077
touch .env
chmod 600 .env
for name in ACTION_SERVER_TOKEN RASA_API_TOKEN; do
  if ! grep -qE "^(export +)?$name=" .env; then
    echo "$name=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')" >> .env
    echo "setup: generated $name into .env" >&2
  fi
done
