#!/usr/bin/env bash
# `make run`: train if the data changed, start Redis if none answers, then the
# action server and the Rasa server. Ctrl-C stops everything it started.
set -euo pipefail
. "$(dirname "$0")/env.sh"

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Give them STOP_TIMEOUT_SECONDS to finish their turns, then kill what is
  # left (a Sanic worker stuck in shutdown must not keep the port busy).
  for _ in $(seq 1 $((${STOP_TIMEOUT_SECONDS:-20} * 5))); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "run: process $pid did not stop in time; killing it" >&2
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "run: stopped" >&2
}
trap stop_all INT TERM EXIT

wait_http() {  # url, name, pid
  for _ in $(seq 1 240); do
    if ! kill -0 "$3" 2>/dev/null; then echo "run: $2 exited during start-up" >&2; exit 1; fi
    if .venv/bin/python -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "run: $2 did not answer on $1" >&2; exit 1
}

if ! redis_answers; then
  if ! command -v redis-server >/dev/null; then
    echo "run: nothing answers on $REDIS_URL and redis-server is not installed (apt-get install redis-server)" >&2
    exit 1
  fi
  echo "run: starting redis-server on port $REDIS_PORT" >&2
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    ${REDIS_PASSWORD:+--requirepass "$REDIS_PASSWORD"} >"${TMPDIR:-/tmp}/isp-redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
  redis_answers || { echo "run: redis-server did not start" >&2; exit 1; }
fi

# Credentials (README, "Credentials"): Rasa's HTTP API wants RASA_API_TOKEN
# (?token=), the action server wants ACTION_SERVER_TOKEN (Rasa sends it).
# `make setup` generates both into .env; unset anyway (no .env, or
# ISP_ENV_FILE=/dev/null): a fresh one per start, printed once.
new_secret() { .venv/bin/python -c "import secrets; print(secrets.token_hex(32))"; }
for name in RASA_API_TOKEN ACTION_SERVER_TOKEN; do
  if [ -z "${!name:-}" ]; then
    export "$name=$(new_secret)"
    echo "run: $name for this start: ${!name}" >&2
    echo "run:   (to keep it across starts, put $name=<32+ random characters> in .env)" >&2
  fi
done
# The action server listens on loopback unless told otherwise (multi-host).
export ACTION_SERVER_HOST=${ACTION_SERVER_HOST:-127.0.0.1}

model="$MODEL_DIR/isp-$(model_fingerprint).tar.gz"
if [ ! -f "$model" ]; then
  echo "run: data changed since the last model; training $model" >&2
  .venv/bin/rasa train --out "$MODEL_DIR" --fixed-model-name "$(basename "$model" .tar.gz)"
fi

.venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" \
  --logging-config-file logging.yml &
pids+=($!)
action_probe=$ACTION_SERVER_HOST; [ "$action_probe" = 0.0.0.0 ] && action_probe=127.0.0.1
wait_http "http://$action_probe:$ACTION_PORT/health" "action server" "${pids[-1]}"

# The job worker (bot/jobs/, arq on the same Redis): outage notices and other
# proactive WhatsApp campaigns. No port; more workers anywhere share the queue.
.venv/bin/python -m bot.jobs &
pids+=($!)

# One Sanic worker per core: turns are CPU-bound (NLU + policies). Every worker
# shares Redis (tracker, lock, socket.io, desk), so none keeps its own state.
export SANIC_WORKERS=${SANIC_WORKERS:-$(nproc)}
echo "run: $SANIC_WORKERS Sanic worker(s)" >&2
.venv/bin/rasa run --enable-api --port "$RASA_PORT" --model "$model" \
  --endpoints endpoints.yml --credentials credentials.yml \
  --auth-token "$RASA_API_TOKEN" ${RASA_JWT_SECRET:+--jwt-secret "$RASA_JWT_SECRET"} \
  --logging-config-file logging.yml ${RASA_CORS:+--cors "$RASA_CORS"} &
pids+=($!)
wait_http "http://127.0.0.1:$RASA_PORT/status?token=$RASA_API_TOKEN" "rasa server" "${pids[-1]}"
echo "run: ready - Rasa on http://127.0.0.1:$RASA_PORT (web widget: /widget), actions on $ACTION_SERVER_HOST:$ACTION_PORT, job worker (Ctrl-C stops)" >&2
wait -n "${pids[@]}"
