#!/usr/bin/env bash
# Builds .venv with Python 3.10 (Rasa 3.6 does not install on 3.11+) and the
# pinned requirements, and the web widget (npm). Re-installs only when the
# requirement or lock files change. Then scripts/setup_env.sh: .env with
# generated secrets, read by plain `.venv/bin/rasa ...` too.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
  local candidate
  for candidate in "${PYTHON:-}" python3.10 \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root)"/versions/3.10.*/bin/python3.10 \
      "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# The web widget's rasa-webchat (web/widget/package-lock.json, served at /widget),
# installed with npm ci and again only when the lock file changes.
widget=web/widget
if [ -d web/node_modules ] && [ ! -L web/node_modules ] && [ ! -e "$widget/node_modules" ]; then
  mv web/node_modules "$widget/node_modules"  # installed before the widget moved to web/widget/
fi
web_stamp=$widget/node_modules/.package-lock.sha256
web_wanted=$(sha256sum "$widget/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$web_stamp" ] || [ "$(cat "$web_stamp")" != "$web_wanted" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm not found; the web widget needs Node.js 18+ and npm (apt-get install nodejs npm)" >&2
    exit 1
  fi
  echo "setup: installing the web widget (npm ci in $widget/)" >&2
  (cd "$widget" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$web_wanted" > "$web_stamp"
fi

# Python: .venv with the pinned requirements, re-installed when they change.
install_venv() {
  local python
  if ! python=$(find_python310); then
    cat >&2 <<'MSG'
error: Python 3.10 not found (Rasa 3.6 supports Python 3.8 to 3.10 only).
Install it, then run this again:
  - with pyenv:  pyenv install 3.10.13
  - or point to one you have:  PYTHON=/path/to/python3.10 make setup
MSG
    exit 1
  fi
  echo "setup: using $python" >&2
  if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
    rm -rf .venv
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade "pip==24.0"
  .venv/bin/python -m pip install --quiet -r requirements.txt -c requirements.lock
  .venv/bin/python -m pip check
  echo "$wanted" > "$stamp"
}

stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements.lock | sha256sum | cut -d' ' -f1)
if ! { [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; }; then
  install_venv
fi

# This checkout's .env (generated secrets) and the .venv hook that reads it.
scripts/setup_env.sh
