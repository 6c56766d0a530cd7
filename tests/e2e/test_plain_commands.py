"""Plain `rasa` commands in a fresh copy of the checkout, with no variable exported.

Issue 13's goal: after `make setup` and `make train` only, `.venv/bin/rasa data
validate`, `rasa run actions` + `rasa run`, `rasa shell` and `rasa test` work
against local Redis, and stay secure (the action server wants the token Rasa
sends from endpoints.yml). The copy gets the project's .venv (a symlink: no
pip install here) and the trained model, then runs scripts/setup_env.sh, the
part of `make setup` that writes .env (generated secrets) and the .venv hook
that reads it. Each command runs with an environment holding only PATH, HOME
and TERM. The copy's .env also gets the test Redis (REDIS_URL, a key prefix)
and the action server's port, so it does not meet the shared Redis' other
users; those are lines in .env, not exported variables.

`.venv/bin/python .venv/bin/rasa ...` stands for `.venv/bin/rasa ...`: the
symlinked .venv's scripts name the project's python in their #! line, which
would make the hook read the project's .env instead of the copy's (a real
clone has a .venv of its own and no such difference).
"""
from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from testing.processes import ROOT, free_port

pytestmark = pytest.mark.e2e

# utter_greet has two wordings and Rasa picks one at random: either is the greeting.
GREETINGS = ("assistente virtual", "atendimento da sua internet")


def plain_env() -> Dict[str, str]:
    """What a new terminal has: no project variable at all."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "TERM": "dumb"}


@dataclass
class Checkout:
    root: Path
    action_port: int
    prefix: str


def rasa(checkout: Checkout, *args: str) -> List[str]:
    venv = checkout.root / ".venv" / "bin"
    return [str(venv / "python"), str(venv / "rasa"), *args]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, model_path, redis_settings, key_prefix, redis_client):
    root = tmp_path_factory.mktemp("plain") / "isp"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to((ROOT / ".venv").resolve())
    (root / "models").mkdir(exist_ok=True)
    shutil.copy(model_path, root / "models" / "isp-test.tar.gz")
    done = subprocess.run(["scripts/setup_env.sh"], cwd=root, env=plain_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    env_file = root / ".env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    secrets = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert len(secrets["ACTION_SERVER_TOKEN"]) >= 32 and len(secrets["RASA_API_TOKEN"]) >= 32
    prefix = key_prefix + "plain"
    action_port = free_port()
    with env_file.open("a") as env:
        env.write(f"REDIS_URL={redis_settings.url}\nREDIS_KEY_PREFIX={prefix}\nACTION_PORT={action_port}\n")
    yield Checkout(root, action_port, prefix)
    for key in redis_client.scan_iter(f"{prefix}:*"):
        redis_client.delete(key)


def start(args: List[str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(args, cwd=cwd, env=plain_env(), stdout=out, stderr=subprocess.STDOUT)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer:\n" + log.read_text(errors="replace")[-3000:])


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def action_server(checkout, tmp_path_factory):
    log = tmp_path_factory.mktemp("plain-logs") / "actions.log"
    process = start(rasa(checkout, "run", "actions", "--port", str(checkout.action_port)), checkout.root, log)
    wait_http(f"http://127.0.0.1:{checkout.action_port}/health", process, log)
    yield process
    stop(process)


def test_rasa_data_validate(checkout):
    done = subprocess.run(rasa(checkout, "data", "validate"), cwd=checkout.root, env=plain_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_rasa_run_answers_with_the_action_server(checkout, action_server, redis_client, tmp_path):
    url = f"http://127.0.0.1:{checkout.action_port}/webhook"
    # secure by default: the action server wants the token Rasa sends from endpoints.yml
    assert requests.post(url, json={"next_action": "action_invoice"}, timeout=10).status_code == 401
    port = free_port()
    log = tmp_path / "rasa.log"
    process = start(rasa(checkout, "run", "--port", str(port)), checkout.root, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/", process, log)
        webhook = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        greeting = requests.post(webhook, json={"sender": "plain-run", "message": "oi"}, timeout=60)
        assert greeting.status_code == 200, log.read_text()[-3000:]
        assert any(words in greeting.json()[0]["text"] for words in GREETINGS), greeting.json()
        # the customer-identification form, through the token-checked action server
        replies = requests.post(webhook, json={"sender": "plain-run", "message": "to sem internet"},
                                timeout=60).json()
        assert "CPF ou CNPJ" in replies[-1]["text"], log.read_text()[-3000:]
        assert redis_client.exists(f"{checkout.prefix}:tracker-meta:plain-run")  # the Redis tracker store
        assert "Failed to run custom action" not in log.read_text()
    finally:
        stop(process)


class Terminal:
    """A child process on a pseudo-terminal (rasa shell's prompt wants a TTY)."""

    def __init__(self, args: List[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, cwd=cwd, env=plain_env(), stdin=slave, stdout=slave,
                                        stderr=slave, start_new_session=True)
        os.close(slave)
        self.output = b""

    def expect(self, *texts: str, timeout: float) -> bool:
        """Whether one of ``texts`` shows up within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if select.select([self.master], [], [], 1)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
                if any(text.encode() in self.output for text in texts):
                    return True
        return False

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> None:
        stop(self.process)
        os.close(self.master)


def test_rasa_shell_answers_oi(checkout, action_server):
    terminal = Terminal(rasa(checkout, "shell", "--port", str(free_port())), checkout.root)
    try:
        assert terminal.expect("Bot loaded", timeout=300), terminal.output.decode(errors="replace")[-3000:]
        time.sleep(1)
        terminal.type("oi")
        assert terminal.expect(*GREETINGS, timeout=120), terminal.output.decode(errors="replace")[-3000:]
        terminal.type("/stop")
    finally:
        terminal.close()


def test_rasa_test_runs_the_test_stories(checkout, tmp_path):
    """Plain `rasa test` (core and NLU) runs to the end and writes its reports. Whether
    every story passes is test_designer_tools.py's `rasa test core --fail-on-prediction-errors`:
    the full `rasa test` also scores the CPF turns' NLU ("[390.533.447-05](cpf)"), which
    this model sends to nlu_fallback."""
    done = subprocess.run(rasa(checkout, "test", "--stories", "tests/test_stories.yml", "--out", str(tmp_path)),
                          cwd=checkout.root, env=plain_env(), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "story_report.json").is_file() and (tmp_path / "intent_report.json").is_file()
