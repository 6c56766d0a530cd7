# Sourced by the scripts: project root, .env, resolved settings, no telemetry.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# .env (or ISP_ENV_FILE; /dev/null: none) fills only the variables not set:
# the same rule as plain `.venv/bin/rasa` (scripts/env_hook.py).
dotenv=$(.venv/bin/python scripts/env_hook.py) || exit 2
eval "$dotenv"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Nothing may reach the internet at run time.
export RASA_TELEMETRY_ENABLED=false
export RASA_PORT=${RASA_PORT:-5005}
export ACTION_PORT=${ACTION_PORT:-5055}
export MODEL_DIR=${MODEL_DIR:-models}
settings=$(.venv/bin/python -m bot.settings) || exit 2
eval "$settings"

redis_answers() {
  .venv/bin/python - <<'PY' 2>/dev/null
import os, sys, redis
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1).ping()
except Exception:
    sys.exit(1)
PY
}

# Hash of everything `rasa train` reads: same data, same model file name.
model_fingerprint() {
  { echo "rasa==3.6.21"; for f in config.yml domain.yml $(find data -name '*.yml' -not -path 'data/knowledge/*' | sort); do
      echo "== $f"; cat "$f"; done; } | sha256sum | cut -c1-12
}
