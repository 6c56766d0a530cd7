"""SIGTERM mid-turn (channels/common/drain.py): the running turn completes and is
answered; new requests meanwhile get 503 + Retry-After, /health/ready turns 503;
the server then exits on its own. With two Sanic workers too, and while they still
load the model (channels/common/workers.py)."""
from __future__ import annotations

import re
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List

import pytest
import requests

from testing.processes import child_pids, pid_alive
from testing.rasa_server import RasaServer
from testing.redis_server import SlowActionProxy
from tests.conftest import CHAT_API_KEY

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}
ACTION_DELAY = 4.0  # seconds each action call takes: the turn is still running at SIGTERM


def webhook(server: RasaServer, sender: str, message: str) -> requests.Response:
    return requests.post(f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                         headers=AUTH, timeout=60)


@pytest.fixture
def slow_server(model_path, server_env, log_dir, action_server):
    proxy = SlowActionProxy(f"http://127.0.0.1:{server_env['ACTION_PORT']}", delay=0).start()
    env = {**server_env, "ACTION_SERVER_URL": proxy.url, "SANIC_WORKERS": "1", "SHUTDOWN_DRAIN_SECONDS": "30"}
    server = RasaServer(model_path, env, log_dir, name="rasa-sigterm").start()
    yield server, proxy
    server.stop()
    proxy.stop()


def test_sigterm_mid_turn_finishes_the_turn_and_refuses_new_ones(slow_server):
    server, proxy = slow_server
    sender = f"drain-{uuid.uuid4().hex[:10]}"
    assert webhook(server, sender, "oi").status_code == 200  # warm: the first turn loads everything
    proxy.delay = ACTION_DELAY
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(webhook, server, sender, "/ask_plans")
        time.sleep(1.5)  # the turn waits on its action now
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = webhook(server, f"drain-{uuid.uuid4().hex[:10]}", "oi")
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0, refused.text
        assert "shutting down" in refused.json()["detail"]
        ready = requests.get(f"{server.url}/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json() == {"status": "not_ready"}
        answered = running.result(timeout=60)
    assert answered.status_code == 200 and answered.json(), answered.text
    server.process.wait(timeout=30)  # exits by itself once the turn is done


# -- several Sanic workers (SANIC_WORKERS=2, as `make run` on two cores) ------------------------
# The main process forwards SIGTERM to its workers; each drains its own turns. A worker still
# loading the model used to run the main process' inherited handler and never stop
# (channels/common/workers.py). Timeouts below only guard against a hang; the time is printed.

EXIT_GUARD = 120  # seconds: a failure guard, not a limit


def two_worker_server(model_path, server_env, log_dir, name: str, **extra: str) -> RasaServer:
    env = {**server_env, "SANIC_WORKERS": "2", "SHUTDOWN_DRAIN_SECONDS": "30", **extra}
    return RasaServer(model_path, env, log_dir, name=name)


SERVING = re.compile(r"channels\.common\.workers\s+- worker \d+ serving")
LOADING = re.compile(r"Loading model ")


def wait_for_workers(server: RasaServer, line: "re.Pattern", count: int = 2, timeout: float = 300) -> List[int]:
    """The worker pids once ``line`` is in the log ``count`` times (both workers got that far)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_tail()
        workers = child_pids(server.process.pid)
        if len(workers) == count and len(line.findall(server.log_text())) >= count:
            return workers
        time.sleep(0.5)
    raise AssertionError(f"{count} workers never logged {line.pattern!r}:\n{server.log_tail()}")


def assert_tree_exits(server: RasaServer, workers: List[int], what: str) -> float:
    """The main process and every worker exit; the seconds it took (printed)."""
    started = time.monotonic()
    try:
        server.process.wait(timeout=EXIT_GUARD)
    except subprocess.TimeoutExpired:
        left = [pid for pid in workers if pid_alive(pid)]
        server.stop()
        pytest.fail(f"{what}: rasa run (workers {left} alive) still running after {EXIT_GUARD}s:\n"
                    f"{server.log_tail()}")
    took = time.monotonic() - started
    print(f"{what}: the process tree exited {took:.1f}s after the signal")
    assert [pid for pid in workers if pid_alive(pid)] == [], "orphaned worker processes"
    assert "Traceback" not in server.log_text(), server.log_tail(80)
    return took


@pytest.fixture
def slow_two_workers(model_path, server_env, log_dir, action_server):
    proxy = SlowActionProxy(f"http://127.0.0.1:{server_env['ACTION_PORT']}", delay=0).start()
    server = two_worker_server(model_path, server_env, log_dir, "rasa-2w-turn",
                               ACTION_SERVER_URL=proxy.url).start()
    yield server, proxy
    assert server.stop(), "the server needed SIGKILL"
    proxy.stop()


def test_two_workers_sigterm_mid_turn_finish_it_and_exit(slow_two_workers, redis_client, key_prefix):
    server, proxy = slow_two_workers
    workers = wait_for_workers(server, SERVING)
    sender = f"drain2-{uuid.uuid4().hex[:10]}"
    assert webhook(server, sender, "oi").status_code == 200
    proxy.delay = ACTION_DELAY
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(webhook, server, sender, "/ask_plans")
        time.sleep(1.5)  # the turn waits on its action now, holding the conversation's lock
        assert redis_client.keys(f"{key_prefix}*lock-queue*{sender}*"), "no lock held: no turn in flight"
        server.process.send_signal(signal.SIGTERM)
        answered = running.result(timeout=60)
    assert answered.status_code == 200 and answered.json(), answered.text
    assert_tree_exits(server, workers, "2 workers, SIGTERM mid-turn")
    assert redis_client.keys(f"{key_prefix}*lock-queue*{sender}*") == []  # the lock was released
    assert "shutdown: refusing new turns, waiting up to 30.0s for 1 running" in server.log_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_two_idle_workers_exit_on_a_signal(model_path, server_env, log_dir, action_server, signum):
    server = two_worker_server(model_path, server_env, log_dir, f"rasa-2w-idle-{signum.name}").start()
    try:
        workers = wait_for_workers(server, SERVING)
        server.process.send_signal(signum)
        assert_tree_exits(server, workers, f"2 idle workers, {signum.name}")
    finally:
        assert server.stop(), "the server needed SIGKILL"


def test_two_workers_sigterm_while_loading_the_model_exit(model_path, server_env, log_dir, action_server):
    """The hang: workers still in before_server_start (model load) when SIGTERM comes."""
    server = two_worker_server(model_path, server_env, log_dir, "rasa-2w-starting").launch()
    try:
        workers = wait_for_workers(server, LOADING)
        server.process.send_signal(signal.SIGTERM)
        assert_tree_exits(server, workers, "2 workers loading the model, SIGTERM")
        log = server.log_text()
        assert not SERVING.search(log)  # the signal did come while they were starting
        assert log.count("SIGTERM while starting, exiting") == 2, server.log_tail(80)
    finally:
        assert server.stop(), "the server needed SIGKILL"
