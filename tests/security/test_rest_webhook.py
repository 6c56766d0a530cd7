"""Rasa's REST webhook, now ours (channels/rasa_rest.py): Rasa's contract kept,
the chat API's checks added. Real ``rasa run``, real Redis (a private one is paused)."""
from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Dict, Iterator

import pytest
import redis
import requests

from tests.conftest import CHAT_API_KEY, CHAT_RATE_LIMIT
from testing.rasa_server import RasaServer
from testing.processes import start_private_redis

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}


@pytest.fixture
def sender() -> str:
    return f"hook-{uuid.uuid4().hex[:12]}"


def post(server, body, headers=AUTH, **kwargs) -> requests.Response:
    return requests.post(f"{server.url}/webhooks/rest/webhook", json=body, headers=headers, timeout=60, **kwargs)


def user_texts(server, sender_id: str) -> list:
    response = server.api("GET", f"/conversations/{sender_id}/tracker")
    response.raise_for_status()
    return [e.get("text") for e in response.json()["events"] if e["event"] == "user"]


def test_rasa_contract_is_kept(rasa_server, sender):
    response = post(rasa_server, {"sender": sender, "message": "quero a segunda via do boleto",
                                  "metadata": {"origem": "app"}})
    assert response.status_code == 200, response.text
    replies = response.json()
    assert replies and all(r["recipient_id"] == sender for r in replies)
    assert any("CPF ou CNPJ" in r.get("text", "") for r in replies)
    assert any(r.get("buttons") for r in replies)
    [event] = [e for e in rasa_server.api("GET", f"/conversations/{sender}/tracker").json()["events"]
               if e["event"] == "user"]
    assert event["input_channel"] == "rest" and event["metadata"]["origem"] == "app"
    assert response.headers["X-Request-ID"]


def test_an_empty_message_is_still_a_message(rasa_server, sender):
    assert post(rasa_server, {"sender": sender, "message": ""}).status_code == 200


@pytest.mark.parametrize("prefix", ["wa:", "web:", "api:", "WA:"])
def test_another_channels_sender_is_refused_and_nothing_written(rasa_server, prefix):
    victim = f"{prefix}5511{uuid.uuid4().int % 10**9:09d}"
    response = post(rasa_server, {"sender": victim, "message": "/inform_payment_done"})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "sender"
    assert "another channel's prefix" in response.json()["detail"]
    assert user_texts(rasa_server, victim) == []


@pytest.mark.parametrize("body, field, words", [
    ({"sender": "x" * 129, "message": "oi"}, "sender", "1 to 128"),
    ({"sender": "tem espaco", "message": "oi"}, "sender", "1 to 128"),
    ({"sender": "ok", "message": "a" * 10_001}, "message", "at most 10000"),
])
def test_over_long_or_odd_values_are_422(rasa_server, body, field, words):
    response = post(rasa_server, body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and words in response.json()["detail"]


def test_a_body_over_64_kb_is_413(rasa_server, sender):
    response = post(rasa_server, {"sender": sender, "message": "oi", "metadata": {"blob": "x" * 70_000}})
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_the_api_key_is_required_when_chat_api_keys_is_set(rasa_server, sender):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": CHAT_API_KEY}):
        response = post(rasa_server, {"sender": sender, "message": "oi"}, headers=headers)
        assert response.status_code == 401 and response.json()["field"] == "Authorization"
    assert user_texts(rasa_server, sender) == []
    assert post(rasa_server, {"sender": sender, "message": "oi"},
                headers={"Authorization": "Bearer second-key"}).status_code == 200


def test_the_rate_limit_is_the_chat_apis(rasa_server, sender):
    if time.time() % 60 > 45:  # keep the burst inside one rate-limit window
        time.sleep(61 - time.time() % 60)
    statuses = [post(rasa_server, {"sender": sender, "message": "/thank"}).status_code
                for _ in range(CHAT_RATE_LIMIT)]
    assert statuses == [200] * CHAT_RATE_LIMIT
    limited = post(rasa_server, {"sender": sender, "message": "/thank"})
    assert limited.status_code == 429 and limited.json()["field"] == "sender"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


# -- Redis paused ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pausable_redis(tmp_path_factory) -> Iterator[Dict]:
    port, process = start_private_redis(tmp_path_factory.mktemp("redis-paused"))
    yield {"port": str(port), "process": process}
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def server_on_pausable_redis(model_path, server_env, log_dir, action_server, pausable_redis):
    env = dict(server_env, REDIS_URL=f"redis://127.0.0.1:{pausable_redis['port']}/0",
               REDIS_HOST="127.0.0.1", REDIS_PORT=pausable_redis["port"], REDIS_DB="0", REDIS_PASSWORD="",
               REDIS_TIMEOUT_SECONDS="1")
    server = RasaServer(model_path, env, log_dir, name="rasa-paused-redis").start()
    yield server
    server.stop()


def test_redis_paused_is_503_and_the_message_is_not_silently_lost(server_on_pausable_redis, pausable_redis, sender):
    server = server_on_pausable_redis
    assert post(server, {"sender": sender, "message": "oi"}).status_code == 200
    os.kill(pausable_redis["process"].pid, signal.SIGSTOP)
    try:
        paused = post(server, {"sender": sender, "message": "/thank"})
    finally:
        os.kill(pausable_redis["process"].pid, signal.SIGCONT)
    assert paused.status_code == 503, paused.text  # Rasa's stock channel: 200 []
    assert "Redis" in paused.json()["detail"]
    assert post(server, {"sender": sender, "message": "/thank"}).status_code == 200
    assert user_texts(server, sender) == ["oi", "/thank"]
