"""`make run` (scripts/run.sh) starts everything, answers, and Ctrl-C stops it all."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import requests

from testing.processes import ROOT, free_port, project_env

pytestmark = pytest.mark.e2e


def model_fingerprint() -> str:
    return subprocess.run(
        ["bash", "-c", ". scripts/env.sh >/dev/null && model_fingerprint"],
        cwd=ROOT, env=project_env(), capture_output=True, text=True, check=True,
    ).stdout.strip()


def listening_addresses(port: int) -> set:
    """The local addresses a TCP port listens on (from `ss`)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()}


def test_run_script_serves_the_bot_and_stops_on_ctrl_c(model_path, redis_settings, key_prefix, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    # an up-to-date model is already there, so the script must not train
    shutil.copy(model_path, models / f"isp-{model_fingerprint()}.tar.gz")
    rasa_port, action_port = free_port(), free_port()
    env = project_env(
        REDIS_URL=redis_settings.url, REDIS_KEY_PREFIX=key_prefix + "run",
        MODEL_DIR=str(models), RASA_PORT=str(rasa_port), ACTION_PORT=str(action_port),
    )
    for name in ("ACTION_SERVER_URL", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "ACTION_SERVER_HOST"):
        env.pop(name, None)
    log = open(tmp_path / "run.log", "wb")
    process = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        replies = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                replies = requests.post(
                    f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook",
                    json={"sender": "run-test", "message": "to sem internet"}, timeout=30,
                ).json()
                break
            except requests.RequestException:
                time.sleep(1)
        output = (tmp_path / "run.log").read_text()
        assert replies, output[-3000:]
        assert "CPF ou CNPJ" in replies[-1]["text"]  # the action server answered
        # our INFO lines show under `make run` too, after the model load (channels/common/logs.py)
        assert re.search(r"INFO\s+channels\.common\.workers\s+- worker \d+ serving", output), output[-3000:]
        assert "training" not in output
        # the job worker (bot/jobs/) runs beside them, on the same Redis and prefix
        assert f"jobs: worker ready on queue {key_prefix}run:jobs" in output, output[-3000:]
        # one worker per core; the next turns may land on any worker and the
        # conversation (form, slots) continues through Redis
        assert f"run: {len(os.sched_getaffinity(0))} Sanic worker(s)" in output
        # no token was set: one was generated for this start and printed once
        token = re.search(r"run: RASA_API_TOKEN for this start: (\S+)", output).group(1)
        assert len(token) >= 32 and output.count(token) == 1
        status = f"http://127.0.0.1:{rasa_port}/status"
        assert requests.get(status, timeout=10).status_code == 401
        assert requests.get(status, params={"token": token}, timeout=10).status_code == 200
        assert "run: ACTION_SERVER_TOKEN for this start: " in output
        actions = f"http://127.0.0.1:{action_port}/webhook"
        assert requests.post(actions, json={"next_action": "action_invoice"}, timeout=10).status_code == 401
        assert listening_addresses(action_port) == {"127.0.0.1"}  # loopback by default
        for _ in range(3):
            follow_up = requests.post(
                f"http://127.0.0.1:{rasa_port}/api/v1/chat",
                json={"session_id": "run-test-2", "message": "to sem internet"}, timeout=30,
            ).json()
        cpf = requests.post(
            f"http://127.0.0.1:{rasa_port}/api/v1/chat",
            json={"session_id": "run-test-2", "message": "529.982.247-25"}, timeout=30,
        ).json()
        assert "enviamos um codigo de 6 digitos" in " ".join(m.get("text", "") for m in cpf["messages"]), (
            follow_up, cpf)
        # no WhatsApp or SMTP in this run: the demo ERP's step-up code is in the action server's log
        logged = None
        for _ in range(50):
            logged = re.search(r"the code for \*\*\*\.982\.247-\*\* is (\d{6})", (tmp_path / "run.log").read_text())
            if logged:
                break
            time.sleep(0.2)
        assert logged, (tmp_path / "run.log").read_text()[-3000:]
        verified = requests.post(
            f"http://127.0.0.1:{rasa_port}/api/v1/chat",
            json={"session_id": "run-test-2", "message": logged.group(1)}, timeout=30,
        ).json()
        assert "Maria" in " ".join(m.get("text", "") for m in verified["messages"]), (follow_up, verified)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            left = subprocess.run(["ps", "-o", "pid,stat,cmd", "-g", str(process.pid)],
                                  capture_output=True, text=True).stdout
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"run.sh did not stop on Ctrl-C; still running:\n{left}\n"
                        f"{(tmp_path / 'run.log').read_text()[-3000:]}")
    for port in (rasa_port, action_port):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    output = (tmp_path / "run.log").read_text()
    assert "run: stopped" in output
    # every process stopped by itself: run.sh's SIGKILL escalation was not needed
    assert "did not stop in time" not in output, output[-3000:]
