#!/usr/bin/env bash
# `make smoke`: the container smoke test (issue 14, part 4; docs/deployment.md).
# Builds the image of deploy/Dockerfile, brings deploy/compose.yml up, talks to it
# through nginx on 127.0.0.1 only, tears it down. Phases, each timed:
#   base    a Debian bookworm base image made here (debootstrap --variant=minbase
#           + docker import) with the host's pyenv Python 3.10 in /usr/local,
#           because no image registry is reachable; plus Redis and nginx images
#           from the same base and Debian's packages (redis:7 / nginx:1.27 cannot
#           be pulled). Made once: kept as images, skipped when they exist.
#   build   DOCKER_BUILDKIT=1 docker build against that base (the CA bundle pip
#           uses on this host passed as the BuildKit secret `ca_bundle`).
#   up      a throwaway copy of compose.yml + nginx/ with a .env of `openssl rand`
#           secrets, `docker-compose up -d` (1 rasa, 1 actions), until nginx
#           answers /health/ready.
#   checks  deploy/smoke_checks.py from the project's .venv: REST turn, socket.io
#           turn, desk login (agent made by `python -m bot.desk` in the rasa
#           container), and the refusals (no Redis/action server/Rasa API port on
#           the host, Rasa's API 404 at nginx and 401 without its token).
#   down    docker-compose down -v (also on failure or Ctrl-C, by the EXIT trap).
# Needs root, docker (dockerd running), docker-compose (v1, Debian) or the compose
# plugin, debootstrap (base phase only), openssl, and `make setup` (.venv).
# Settings: SMOKE_PORT (nginx on 127.0.0.1, default 18080), SMOKE_IMAGE
# (isp-bot:smoke), SMOKE_BASE (isp-bot-base:bookworm-py3.10), SMOKE_KEEP=1 (leave
# the stack up; `docker-compose -p isp-smoke ... down -v` later), SMOKE_NO_CACHE=1
# (cold build), PIP_INDEX_URL / NPM_CONFIG_REGISTRY (the indexes; default PyPI, npm),
# DEBIAN_MIRROR (default: the first URI of this host's apt sources).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${SMOKE_PORT:-18080}
IMAGE=${SMOKE_IMAGE:-isp-bot:smoke}
BASE=${SMOKE_BASE:-isp-bot-base:bookworm-py3.10}
REDIS_IMAGE=${SMOKE_REDIS_IMAGE:-isp-bot-smoke-redis:bookworm}
NGINX_IMAGE=${SMOKE_NGINX_IMAGE:-isp-bot-smoke-nginx:bookworm}
PROJECT=isp-smoke
SUITE=bookworm
# The runtime libraries of a CPython built from source (ssl, sqlite3, ctypes, bz2,
# lzma, readline, curses, uuid, dbm, expat, zlib), and the CA bundle.
BASE_PACKAGES=ca-certificates,libssl3,libsqlite3-0,libffi8,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libuuid1,zlib1g,libgdbm6,libexpat1

T0=$SECONDS
SUMMARY=()
WORK=""
COMPOSE=()
BUILDER=()
STACK_UP=0
PHASE=""
PHASE_START=0

say() { echo "smoke: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# phase NAME COMMAND...: runs it (under set -e: its first failing command ends
# the run, and cleanup names the phase), prints its duration, keeps it for the summary.
phase() {
  PHASE=$1 PHASE_START=$SECONDS
  shift
  say "== $PHASE"
  "$@"
  SUMMARY+=("$(printf '%-28s %5d s' "$PHASE" $((SECONDS - PHASE_START)))")
  say "== $PHASE: done in $((SECONDS - PHASE_START)) s"
  PHASE=""
}

cleanup() {
  local rc=$?
  if [ "$STACK_UP" = 1 ] && [ "$rc" != 0 ]; then
    say "logs of the failed run (last 60 lines per service):"
    "${COMPOSE[@]}" logs --no-color --tail=60 >&2 2>&1 || true
  fi
  if [ "$rc" != 0 ] && [ -n "$PHASE" ]; then
    say "FAILED in phase '$PHASE' after $((SECONDS - PHASE_START)) s (exit $rc)"
  fi
  if [ "$STACK_UP" = 1 ]; then
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then
      say "SMOKE_KEEP=1: stack left up; stop it with: ${COMPOSE[*]} down -v"
    else
      say "== down"
      "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || say "docker-compose down failed"
    fi
  fi
  if [ -n "$WORK" ] && [ "${SMOKE_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
  if [ "$rc" = 0 ]; then
    say "PASSED in $((SECONDS - T0)) s"
  else
    say "FAILED (exit $rc) after $((SECONDS - T0)) s"
  fi
  for line in "${SUMMARY[@]}"; do say "  $line"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

preflight() {
  command -v docker >/dev/null || fail "docker is not installed (apt-get install docker.io)"
  docker info >/dev/null 2>&1 || fail "the docker daemon does not answer (start it: dockerd &)"
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
  else
    fail "neither docker compose nor docker-compose is installed (apt-get install docker-compose)"
  fi
  # BuildKit (the Dockerfile's secret mounts): buildx, or a client before 23.0
  # (Debian's docker.io 20.10 talks BuildKit to the daemon by itself).
  if docker buildx version >/dev/null 2>&1; then
    BUILDER=(docker)
  else
    BUILDER=()
    for client in docker /usr/bin/docker; do
      if [ "$("$client" version -f '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)" -lt 23 ] 2>/dev/null; then
        BUILDER=("$client"); break
      fi
    done
    [ "${#BUILDER[@]}" -gt 0 ] || fail "no BuildKit builder: install docker buildx (or Debian's docker.io client)"
  fi
  command -v openssl >/dev/null || fail "openssl is not installed"
  [ -x .venv/bin/python ] || fail ".venv is missing: run make setup"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "127.0.0.1:$PORT is taken; set SMOKE_PORT"
  fi
  say "docker $(docker version -f '{{.Server.Version}}'), build with ${BUILDER[*]}, ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true)"
}

# The Debian mirror apt uses here (deb822 URIs: or a one-line `deb` entry).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
    | awk '$1 == "URIs:" {print $2} $1 == "deb" {print ($2 ~ /^\[/ ? $3 : $2)}' \
    | grep -E '/debian/?$' | head -n1 || true
}

host_python310() {
  local candidate
  for candidate in "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.10.* \
      "$HOME"/.pyenv/versions/3.10.*; do
    if [ -x "$candidate/bin/python3.10" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# A minimal bookworm with the host's CPython 3.10 copied to /usr/local. pyenv
# builds it with --enable-shared and an rpath into the pyenv tree, which does not
# exist in the image: libpython goes to /usr/local/lib, found through ldconfig.
# site-packages is not copied (it holds the host's own .pth files): ensurepip
# installs pip and setuptools from the wheels bundled with that Python.
make_base() {
  local python mirror rootfs version
  python=$(host_python310) || fail "no Python 3.10 under \$(pyenv root)/versions"
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR"
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
  version=$("$python/bin/python3.10" -c 'import platform; print(platform.python_version())')
  rootfs=$WORK/rootfs
  say "debootstrap $SUITE from $mirror, Python $version from $python"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$mirror" \
    > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log" >&2; return 1; }
  # apt in the image sees the same suites as the host: main, updates, security.
  cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb ${mirror%/debian*}/debian-security $SUITE-security main
EOF
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib"
  cp -a "$python/bin/python3.10" "$rootfs/usr/local/bin/"
  ln -sf python3.10 "$rootfs/usr/local/bin/python3"
  ln -sf python3.10 "$rootfs/usr/local/bin/python"
  cp -a "$python"/lib/libpython3* "$rootfs/usr/local/lib/"
  tar -C "$python/lib" --exclude=python3.10/test --exclude=python3.10/site-packages \
    --exclude='__pycache__' -cf - python3.10 | tar -C "$rootfs/usr/local/lib" -xf -
  mkdir -p "$rootfs/usr/local/lib/python3.10/site-packages"
  chroot "$rootfs" /sbin/ldconfig
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
    python3.10 -m ensurepip --default-pip >/dev/null 2>&1
  chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin sh -ec '
    python3.10 -c "import ssl, sqlite3, ctypes, bz2, lzma, readline, uuid, zlib, venv"
    python3.10 -m pip --version
    ldd /usr/local/bin/python3.10 | grep -q "libpython3.10.so.1.0 => /usr/local/lib/"'
  rm -f "$rootfs"/usr/local/bin/pip* "$rootfs"/usr/local/bin/pip3*
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/*
  tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.opencontainers.image.description=\"debootstrap $SUITE + CPython $version (deploy/smoke.sh)\"" \
    --change 'CMD ["python3"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
}

# redis-server and nginx from Debian on the same base, shaped like the official
# images compose names by default (redis-server/redis-cli/sh on PATH; nginx in
# the foreground with its config in /etc/nginx/nginx.conf, logs on stdout).
make_service_images() {
  if ! docker image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
    DOCKER_BUILDKIT=1 "${BUILDER[@]}" build -q -t "$REDIS_IMAGE" - >/dev/null <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
EOF
  fi
  if ! docker image inspect "$NGINX_IMAGE" >/dev/null 2>&1; then
    DOCKER_BUILDKIT=1 "${BUILDER[@]}" build -q -t "$NGINX_IMAGE" - >/dev/null <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \\
    && rm -rf /var/lib/apt/lists/* \\
    && ln -sf /dev/stderr /var/log/nginx/error.log && ln -sf /dev/stdout /var/log/nginx/access.log
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  fi
}

base_images() {
  if docker image inspect "$BASE" >/dev/null 2>&1; then
    say "base image $BASE exists (docker rmi it to make it again)"
  else
    make_base
  fi
  make_service_images
}

# The CA bundle pip uses on this host (PIP_CERT, pip config `cert`), else the
# system's: it trusts the TLS proxy in front of the package indexes, if any.
ca_bundle() {
  local cert=${PIP_CERT:-}
  [ -n "$cert" ] || cert=$(.venv/bin/python -m pip config get global.cert 2>/dev/null || true)
  [ -n "$cert" ] || cert=/etc/ssl/certs/ca-certificates.crt
  echo "$cert"
}

build_image() {
  local args=(--secret "id=ca_bundle,src=$(ca_bundle)" --build-arg "BASE=$BASE"
              --build-arg "PIP_INDEX_URL=${PIP_INDEX_URL:-https://pypi.org/simple}"
              --build-arg "NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org/}")
  [ "${SMOKE_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  DOCKER_BUILDKIT=1 "${BUILDER[@]}" build --progress=plain "${args[@]}" -f deploy/Dockerfile -t "$IMAGE" . \
    > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; return 1; }
  say "image $IMAGE: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')," \
      "model $(docker run --rm --entrypoint sh "$IMAGE" -c 'ls models')"
}

# A throwaway copy of compose.yml + nginx/ (compose reads .env beside it) with
# fresh secrets; the images are the ones built above (no --build).
write_env() {
  mkdir -p "$WORK/deploy"
  cp -r deploy/compose.yml deploy/nginx "$WORK/deploy/"
  sed -e '/^\(REDIS_PASSWORD\|RASA_API_TOKEN\|ACTION_SERVER_TOKEN\|DESK_JWT_SECRET\|METRICS_TOKEN\|CHAT_API_KEYS\|HTTP_BIND\|HTTP_PORT\|NGINX_PROFILE\|ISP_IMAGE\)=/d' \
    deploy/.env.example > "$WORK/deploy/.env"
  {
    for name in REDIS_PASSWORD RASA_API_TOKEN ACTION_SERVER_TOKEN DESK_JWT_SECRET METRICS_TOKEN CHAT_API_KEYS; do
      echo "$name=$(openssl rand -hex 32)"
    done
    echo "HTTP_BIND=127.0.0.1"
    echo "HTTP_PORT=$PORT"
    echo "NGINX_PROFILE=profile"
    echo "ISP_IMAGE=$IMAGE"
    echo "REDIS_IMAGE=$REDIS_IMAGE"
    echo "NGINX_IMAGE=$NGINX_IMAGE"
  } >> "$WORK/deploy/.env"
  chmod 600 "$WORK/deploy/.env"
  COMPOSE+=(-p "$PROJECT" -f "$WORK/deploy/compose.yml" --env-file "$WORK/deploy/.env")
}

stack_up() {
  # A leftover of an interrupted run (same project name) goes first.
  "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  STACK_UP=1
  "${COMPOSE[@]}" up -d --no-build >&2
  local deadline=$((SECONDS + ${SMOKE_READY_SECONDS:-300}))
  until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/health/ready" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { "${COMPOSE[@]}" ps >&2; return 1; }
    sleep 2
  done
}

# The desk agent comes from the CLI inside the rasa container (its REDIS_* are
# the stack's), as an operator would make the first one.
checks() {
  local env=$WORK/deploy/.env agent password containers="" service
  agent=smoke$(openssl rand -hex 4)
  password="Smoke-$(openssl rand -hex 12)"  # the desk wants an upper-case letter and a digit
  "${COMPOSE[@]}" exec -T -e DESK_USER_PASSWORD="$password" rasa \
    python -m bot.desk create-user --username "$agent" --name "Smoke test" --role atendente >&2
  for service in rasa actions redis nginx; do
    containers+="$service=$("${COMPOSE[@]}" ps -q "$service" | head -n1) "
  done
  env -i PATH="$PATH" HOME="$HOME" PYTHONPATH="$ROOT" \
    SMOKE_URL="http://127.0.0.1:$PORT" \
    SMOKE_CHAT_KEY="$(sed -n 's/^CHAT_API_KEYS=//p' "$env")" \
    SMOKE_AGENT="$agent" SMOKE_DESK_PASSWORD="$password" SMOKE_CONTAINERS="$containers" \
    .venv/bin/python deploy/smoke_checks.py
}

# The whole run is one function, parsed before it starts: editing this file
# during a run cannot change the run.
main() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/isp-smoke.XXXXXX")
  phase preflight preflight
  phase "base images" base_images
  phase "build ($IMAGE)" build_image
  write_env
  phase "stack up to ready" stack_up
  phase checks checks
}
main "$@"; exit $?
