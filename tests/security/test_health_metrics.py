"""/health and /metrics (channels/common/health.py): the public gets the status only;
the dependency detail and Prometheus want METRICS_TOKEN; with Redis frozen,
/health answers within its bound from the very first call."""
from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from testing.redis_server import RedisServer
from tests.conftest import METRICS_AUTH
from testing.rasa_server import RasaServer

pytestmark = pytest.mark.e2e

WRONG = {"Authorization": "Bearer not-the-metrics-token-0123456789abcdef"}


def test_public_health_is_status_only(rasa_server):
    public = requests.get(f"{rasa_server.url}/health", timeout=30)
    assert public.status_code == 200
    assert public.json() == {"status": "healthy"}
    detail = requests.get(f"{rasa_server.url}/health", headers=METRICS_AUTH, timeout=30).json()
    assert detail["redis"] == "ok" and detail["action_server"] == "ok" and detail["rasa_version"]
    assert requests.get(f"{rasa_server.url}/health", headers=WRONG, timeout=30).status_code == 401


@pytest.mark.parametrize("headers", [{}, WRONG, {"Authorization": "Basic eDp5"}], ids=["none", "wrong", "basic"])
def test_metrics_want_the_token(rasa_server, headers):
    refused = requests.get(f"{rasa_server.url}/metrics", headers=headers, timeout=30)
    assert refused.status_code == 401
    assert "isp_" not in refused.text and "METRICS_TOKEN" in refused.json()["detail"]
    assert "isp_turn_duration_seconds" in requests.get(
        f"{rasa_server.url}/metrics", headers=METRICS_AUTH, timeout=30).text


@pytest.fixture(scope="module")
def lone_server(model_path, server_env, log_dir, action_server, tmp_path_factory):
    """A Rasa server on a Redis of its own, with the documented check bound, and
    an ACTION_SERVER_TOKEN the (shared) action server does not know."""
    redis = RedisServer(tmp_path_factory.mktemp("health-redis"), appendonly=False).start()
    env = {**server_env, "REDIS_URL": redis.url, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port),
           "REDIS_DB": "0", "REDIS_PASSWORD": "", "SANIC_WORKERS": "1",
           "ACTION_SERVER_TOKEN": "not-the-action-servers-token-0123456789abcdef"}
    env.pop("HEALTH_CHECK_TIMEOUT_SECONDS")  # the default: about 100 ms
    server = RasaServer(model_path, env, log_dir, name="rasa-health-frozen").start()
    yield server, redis
    os.kill(redis.process.pid, signal.SIGCONT)
    server.stop()
    redis.kill()


def test_health_with_redis_frozen_answers_quickly_from_the_first_call(lone_server):
    server, redis = lone_server
    os.kill(redis.process.pid, signal.SIGSTOP)  # paused: connections hang, nothing is refused
    try:
        took = []
        for _ in range(3):
            started = time.monotonic()
            answer = requests.get(f"{server.url}/health", headers=METRICS_AUTH, timeout=30)
            took.append(time.monotonic() - started)
            assert answer.json()["status"] == "degraded" and answer.json()["redis"] == "unavailable"
            public = requests.get(f"{server.url}/health", timeout=30)
            assert public.json() == {"status": "degraded"}
        # documented bound ~100 ms; generous here for a loaded CI machine (it was 2.6 s)
        assert max(took) < 1.0, took
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)


def test_a_wrong_action_server_token_shows_in_the_health_detail(lone_server):
    """(After the frozen-Redis test, which needs the very first /health call.)"""
    server, _ = lone_server
    # each check has ~80 ms here: on a loaded machine one may time out, so ask a few times
    seen = []
    for _ in range(20):
        seen.append(requests.get(f"{server.url}/health", headers=METRICS_AUTH, timeout=30).json()["action_server"])
        if seen[-1] == "unauthorized":
            break
        time.sleep(0.25)
    assert seen[-1] == "unauthorized" and "ok" not in seen, seen
    assert requests.get(f"{server.url}/health", timeout=30).json() == {"status": "degraded"}
