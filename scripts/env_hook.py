"""Run at the start of every Python of this checkout's .venv (installed by
`make setup` as .venv/lib/python3.10/site-packages/isp_checkout_env.pth).

It makes plain `.venv/bin/rasa run`, `rasa shell`, `rasa run actions`,
`rasa test` see the same settings as `make run`, without sourcing anything:

- the checkout's `.env` (the directory holding the .venv; `make setup` writes
  it, mode 0600, with generated secrets) fills the variables that are NOT
  set: an exported variable always wins. ISP_ENV_FILE names another file;
  ISP_ENV_FILE=/dev/null turns this off (the tests do).
- ACTION_SERVER_URL defaults to http://127.0.0.1:$ACTION_PORT/webhook (5055),
  because endpoints.yml must spell it as ${ACTION_SERVER_URL} (tests and
  scripts point Rasa at other ports) and Rasa expands ${VAR} when it loads
  the YAML, before any of our code runs.
- RASA_TELEMETRY_ENABLED defaults to false: nothing reaches the internet at
  run time, as with the scripts.

Lines are KEY=VALUE (an optional `export `, '...' or "..." quotes, # comments).
It never raises: a broken .env must not break pip or python.
`python scripts/env_hook.py` prints the same as `export` lines (scripts/env.sh).
"""
import os
import shlex
import sys


def _parse(text):
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier():
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        yield name, value


def load(checkout):
    """Fill the unset variables from the env file; the names it holds."""
    path = os.environ.get("ISP_ENV_FILE") or os.path.join(checkout, ".env")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        text = ""
    names = []
    for name, value in _parse(text):
        os.environ.setdefault(name, value)
        names.append(name)
    port = os.environ.get("ACTION_PORT", "").strip() or "5055"
    os.environ.setdefault("ACTION_SERVER_URL", f"http://127.0.0.1:{port}/webhook")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return names


if __name__ == "__main__":
    for name in load(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
        print(f"export {name}={shlex.quote(os.environ[name])}")
else:
    try:
        load(os.path.dirname(os.path.abspath(sys.prefix)))
    except Exception as error:  # noqa: BLE001 - interpreter start-up must go on
        print(f"warning: {__file__}: {error}", file=sys.stderr)
