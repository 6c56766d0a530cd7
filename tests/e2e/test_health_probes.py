"""/health/live and /health/ready (channels/common/health.py), the probes of replicas:
live answers whatever the dependencies; ready is 503 + Retry-After while Redis
does not answer and 200 again once it does, within the check bound."""
from __future__ import annotations

import time

import pytest
import requests

from testing.rasa_server import RasaServer
from testing.redis_server import RedisServer
from tests.conftest import METRICS_AUTH

pytestmark = pytest.mark.e2e

WRONG = {"Authorization": "Bearer not-the-metrics-token-0123456789abcdef"}


def test_live_and_ready_on_a_healthy_server(rasa_server):
    live = requests.get(f"{rasa_server.url}/health/live", timeout=30)
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    ready = requests.get(f"{rasa_server.url}/health/ready", timeout=30)
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    detail = requests.get(f"{rasa_server.url}/health/ready", headers=METRICS_AUTH, timeout=30).json()
    assert detail == {"status": "ready", "redis": "ok", "action_server": "ok", "model": "ok"}
    assert requests.get(f"{rasa_server.url}/health/ready", headers=WRONG, timeout=30).status_code == 401
    # /health keeps its body
    assert requests.get(f"{rasa_server.url}/health", timeout=30).json() == {"status": "healthy"}


@pytest.fixture(scope="module")
def own_redis_server(model_path, server_env, log_dir, action_server, tmp_path_factory):
    """A Rasa server on a Redis of its own, which the test stops and starts again."""
    redis = RedisServer(tmp_path_factory.mktemp("ready-redis"), appendonly=False).start()
    env = {**server_env, "REDIS_URL": redis.url, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port),
           "REDIS_DB": "0", "REDIS_PASSWORD": "", "SANIC_WORKERS": "1"}
    server = RasaServer(model_path, env, log_dir, name="rasa-ready").start()
    yield server, redis
    server.stop()
    redis.kill()


def ready_within(url: str, headers=None) -> requests.Response:
    started = time.monotonic()
    answer = requests.get(f"{url}/health/ready", headers=headers or {}, timeout=30)
    # bounded by HEALTH_CHECK_TIMEOUT_SECONDS (2 s for the tests), generous for a loaded machine
    assert time.monotonic() - started < 5
    return answer


def test_ready_is_503_while_redis_is_down_and_200_again_after(own_redis_server):
    server, redis = own_redis_server
    assert ready_within(server.url).status_code == 200
    redis.stop()
    try:
        refused = ready_within(server.url)
        assert refused.status_code == 503 and refused.json() == {"status": "not_ready"}
        assert int(refused.headers["Retry-After"]) > 0
        detail = ready_within(server.url, METRICS_AUTH).json()
        assert detail["redis"] == "unavailable" and detail["model"] == "ok"
        live = requests.get(f"{server.url}/health/live", timeout=30)
        assert live.status_code == 200 and live.json() == {"status": "alive"}
    finally:
        redis.start()  # same port and directory
    seen = []
    for _ in range(20):  # the pool reconnects on the next command
        seen.append(ready_within(server.url).status_code)
        if seen[-1] == 200:
            break
        time.sleep(0.25)
    assert seen[-1] == 200, seen
