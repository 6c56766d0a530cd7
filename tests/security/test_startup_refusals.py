"""Start-up refuses what would be open or guessable: the action server without a
strong ACTION_SERVER_TOKEN, Rasa's HTTP API without --auth-token, a weak secret
(each message names the variable). Started as bot designers do: plain
`rasa run actions` / `rasa run` from the project root, no PYTHONPATH."""
from __future__ import annotations

import subprocess
import time
from typing import Dict, List

import pytest
import requests

from tests.conftest import ACTION_AUTH
from testing.processes import ROOT, VENV_BIN, free_port

pytestmark = pytest.mark.e2e

WEAK = "short-secret"


def designer_env(server_env: Dict[str, str], **changes: str) -> Dict[str, str]:
    """The test settings without PYTHONPATH (rasa puts the working directory on sys.path)."""
    env = {k: v for k, v in server_env.items() if k != "PYTHONPATH"}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def refused(args: List[str], env: Dict[str, str], timeout: float = 180) -> str:
    """Run a server that must exit on its own with an error; its output."""
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode != 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


def actions_args(port: int) -> List[str]:
    return [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)]


@pytest.mark.parametrize("token,words", [(None, "ACTION_SERVER_TOKEN is not set"),
                                         (WEAK, "ACTION_SERVER_TOKEN is too weak")], ids=["unset", "weak"])
def test_action_server_refuses_to_start_without_a_strong_token(server_env, token, words):
    output = refused(actions_args(free_port()), designer_env(server_env, ACTION_SERVER_TOKEN=token))
    assert words in output and "refusing to start" in output


def listening(port: int) -> set:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("host,bound", [(None, {"127.0.0.1"}), ("0.0.0.0", {"0.0.0.0"})],
                         ids=["loopback-by-default", "ACTION_SERVER_HOST"])
def test_plain_rasa_run_actions_checks_the_token(server_env, tmp_path, host, bound):
    port = free_port()
    env = designer_env(server_env, ACTION_SERVER_HOST=host, SANIC_HOST=None)
    with open(tmp_path / "actions.log", "wb") as log:
        process = subprocess.Popen(actions_args(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except requests.RequestException:
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/actions", timeout=10).status_code == 401
        assert requests.get(f"{url}/actions", headers=ACTION_AUTH, timeout=10).status_code == 200
        assert listening(port) == bound
    finally:
        process.terminate()
        process.wait(timeout=30)


def rasa_args(model_path, *extra: str) -> List[str]:
    return [str(VENV_BIN / "rasa"), "run", "--port", str(free_port()), "--model", str(model_path),
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml", *extra]


@pytest.mark.parametrize("extra,changes,words", [
    (["--enable-api"], {}, "without --auth-token"),
    (["--enable-api", "--auth-token", WEAK], {}, "RASA_API_TOKEN (--auth-token) is too weak"),
    (["--enable-api", "--jwt-secret", WEAK], {}, "RASA_JWT_SECRET (--jwt-secret) is too weak"),
    ([], {"ACTION_SERVER_TOKEN": None}, "ACTION_SERVER_TOKEN"),
    ([], {"ACTION_SERVER_TOKEN": WEAK}, "ACTION_SERVER_TOKEN is too weak"),
    ([], {"DESK_JWT_SECRET": WEAK}, "DESK_JWT_SECRET is too weak"),
    ([], {"SOCKETIO_JWT_SECRET": WEAK}, "SOCKETIO_JWT_SECRET is too weak"),
    ([], {"WEBSOCKET_JWT_SECRET": WEAK}, "WEBSOCKET_JWT_SECRET is too weak"),
    ([], {"METRICS_TOKEN": WEAK}, "METRICS_TOKEN is too weak"),
], ids=["api-without-token", "api-weak-token", "api-weak-jwt", "no-action-token", "weak-action-token",
        "weak-desk-jwt", "weak-socketio-jwt", "weak-websocket-jwt", "weak-metrics-token"])
def test_rasa_refuses_to_start(model_path, server_env, extra, changes, words):
    output = refused(rasa_args(model_path, *extra), designer_env(server_env, **changes))
    assert words in output


def test_rasa_warns_when_the_chat_api_is_open_on_a_public_bind(model_path, server_env, tmp_path):
    env = designer_env(server_env, CHAT_API_KEYS=None)
    with open(tmp_path / "rasa.log", "wb") as log:
        process = subprocess.Popen(rasa_args(model_path), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "CHAT_API_KEYS is not set" not in (tmp_path / "rasa.log").read_text():
            assert process.poll() is None, (tmp_path / "rasa.log").read_text()[-2000:]
            time.sleep(0.5)
        assert "SECURITY: CHAT_API_KEYS is not set and Rasa listens on 0.0.0.0" in (tmp_path / "rasa.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_make_shell_asks_for_the_action_server_token(server_env):
    output = refused(["scripts/shell.sh"], designer_env(server_env, ACTION_SERVER_TOKEN=None), timeout=60)
    assert "set ACTION_SERVER_TOKEN" in output
