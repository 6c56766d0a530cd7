#!/bin/sh
# The image's two commands (deploy/Dockerfile); anything else runs as given.
#   server   Rasa with our connectors, its HTTP API behind RASA_API_TOKEN
#   actions  the action server, bound to ACTION_SERVER_HOST (0.0.0.0 here:
#            reachable only on the network it is put on, and only with
#            ACTION_SERVER_TOKEN, which rasa_sdk_plugins checks)
#   jobs     the job worker (bot/jobs/, arq): proactive WhatsApp campaigns; no port
# One Sanic worker per container (SANIC_WORKERS, ACTION_SERVER_SANIC_WORKERS):
# scale with more containers (`docker compose up --scale rasa=3`, the chart's HPA).
set -eu
cd /app
case "${1:-server}" in
  server)
    shift $(( $# > 0 ? 1 : 0 ))
    : "${RASA_API_TOKEN:?RASA_API_TOKEN must be set (openssl rand -hex 32): it protects Rasa's HTTP API}"
    set -- --enable-api --port "$RASA_PORT" --model "$MODEL_DIR" \
      --endpoints endpoints.yml --credentials credentials.yml \
      --auth-token "$RASA_API_TOKEN" --logging-config-file logging.yml "$@"
    [ -n "${RASA_JWT_SECRET:-}" ] && set -- "$@" --jwt-secret "$RASA_JWT_SECRET"
    [ -n "${RASA_CORS:-}" ] && set -- "$@" --cors "$RASA_CORS"
    exec rasa run "$@"
    ;;
  actions)
    shift
    export ACTION_SERVER_HOST="${ACTION_SERVER_HOST:-0.0.0.0}"
    exec rasa run actions --actions actions --port "$ACTION_PORT" \
      --logging-config-file logging.yml "$@"
    ;;
  jobs)
    shift
    exec python -m bot.jobs "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
