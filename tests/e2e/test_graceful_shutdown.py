"""SIGTERM mid-turn (channels/common/drain.py): the running turn completes and is
answered; new requests meanwhile get 503 + Retry-After, /health/ready turns 503;
the server then exits on its own."""
from __future__ import annotations

import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

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
