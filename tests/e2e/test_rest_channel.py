"""The chat REST API (channels/rest.py, channels/common/http.py) as an integrator uses it: real Rasa,
real actions, real Redis, plain HTTP clients."""
from __future__ import annotations

import json
import time
import uuid
from typing import Dict, Iterator, List, Tuple

import pytest
import redis
import requests

from tests.conftest import CHAT_API_KEY, CHAT_RATE_LIMIT, METRICS_AUTH, pass_step_up
from testing.rasa_server import RasaServer
from testing.processes import start_private_redis

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}


@pytest.fixture
def session_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def chat(server, session_id: str, message: str, **extra) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/chat",
        json={"session_id": session_id, "message": message, **extra},
        headers=AUTH,
        timeout=60,
    )


def texts(body: dict) -> str:
    return "\n".join(m.get("text", "") for m in body["messages"])


def trigger(server, sender: str, intent: str) -> None:
    """What the desk or a proactive notice does: a bot turn outside the customer's request,
    sent through the conversation's own channel (Rasa calls get_output_channel())."""
    response = server.api(
        "POST", f"/conversations/{sender}/trigger_intent",
        params={"output_channel": "latest"},
        json={"name": intent},
        timeout=60,
    )
    response.raise_for_status()


def later(server, session_id: str, **params) -> requests.Response:
    return requests.get(
        f"{server.url}/api/v1/chat/{session_id}/messages", params=params, headers=AUTH, timeout=30
    )


# -- happy paths --------------------------------------------------------------


def test_a_greeting_is_answered_with_text_and_buttons(rasa_server, session_id):
    response = chat(rasa_server, session_id, "oi")
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == session_id
    assert body["timestamp"].endswith("+00:00")
    first = body["messages"][0]
    assert first["text"]
    assert {"title": "2a via / PIX", "payload": "/request_invoice"} in first["buttons"]
    assert set(first) <= {"text", "buttons", "image", "custom", "attachment"}


def test_a_whole_invoice_request_with_identification(rasa_server, graph_api, session_id):
    asked = chat(rasa_server, session_id, "quero a segunda via do boleto").json()
    assert "CPF ou CNPJ" in texts(asked)
    answered = {"messages": pass_step_up(
        lambda message: chat(rasa_server, session_id, message).json()["messages"],
        graph_api, "529.982.247-25")}
    assert "Maria" in texts(answered)
    assert "***.982.247-**" in texts(answered)
    assert "529.982.247-25" not in json.dumps(answered)
    # the conversation is Rasa's, under the channel's sender id
    tracker = rasa_server.tracker(f"api:{session_id}")
    assert tracker["latest_input_channel"] == "rest_api"
    assert tracker["slots"]["customer_name"]
    assert "529.982.247-25" not in rasa_server.log_text()


def test_metadata_is_kept_with_the_message(rasa_server, session_id):
    assert chat(rasa_server, session_id, "oi", metadata={"plan": "500 mega"}).status_code == 200
    events = rasa_server.tracker(f"api:{session_id}")["events"]
    user = [e for e in events if e["event"] == "user"][-1]
    assert user["metadata"]["plan"] == "500 mega"


def test_request_id_is_echoed_or_generated(rasa_server, session_id):
    given = requests.post(
        f"{rasa_server.url}/api/v1/chat",
        json={"session_id": session_id, "message": "oi"},
        headers={**AUTH, "X-Request-ID": "req-123"},
        timeout=60,
    )
    assert given.headers["X-Request-ID"] == "req-123"
    generated = requests.post(f"{rasa_server.url}/api/v1/chat", data="{", headers=AUTH, timeout=30)
    assert len(generated.headers["X-Request-ID"]) == 32
    assert requests.get(f"{rasa_server.url}/health", timeout=30).headers["X-Request-ID"]


# -- errors -------------------------------------------------------------------


def test_malformed_json_is_400(rasa_server):
    response = requests.post(
        f"{rasa_server.url}/api/v1/chat", data='{"session_id": "a", "message": ', headers=AUTH, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("body is not valid JSON")


def test_a_body_over_64_kb_is_413(rasa_server, session_id):
    response = chat(rasa_server, session_id, "oi", metadata={"blob": "x" * 70_000})
    assert response.status_code == 413
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"message": "oi"}, "session_id", "is required"),
        ({"session_id": 42, "message": "oi"}, "session_id", "must be a string"),
        ({"session_id": "x" * 129, "message": "oi"}, "session_id", "1 to 128"),
        ({"session_id": "tem espaco", "message": "oi"}, "session_id", "1 to 128"),
        ({"session_id": "", "message": "oi"}, "session_id", "1 to 128"),
        ({"session_id": "ok"}, "message", "is required"),
        ({"session_id": "ok", "message": ["oi"]}, "message", "must be a string"),
        ({"session_id": "ok", "message": "   "}, "message", "must not be empty"),
        ({"session_id": "ok", "message": "a" * 4097}, "message", "at most 4096"),
        ({"session_id": "ok", "message": "oi", "metadata": [1]}, "metadata", "must be an object"),
        ({"session_id": "ok", "message": "oi", "sender": "x"}, "sender", "unknown field"),
        (["oi"], "body", "must be a JSON object"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(rasa_server, body, field, words):
    response = requests.post(f"{rasa_server.url}/api/v1/chat", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 422, response.text
    detail = response.json()
    assert detail["field"] == field
    assert detail["detail"].startswith(f"{field}: ")
    assert words in detail["detail"]


def test_missing_or_wrong_api_key_is_401(rasa_server, session_id):
    url = f"{rasa_server.url}/api/v1/chat"
    body = {"session_id": session_id, "message": "oi"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": CHAT_API_KEY}):
        response = requests.post(url, json=body, headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "Authorization" in response.json()["detail"]
    second = requests.post(url, json=body, headers={"Authorization": "Bearer second-key"}, timeout=60)
    assert second.status_code == 200
    assert requests.get(f"{url}/{session_id}/messages", timeout=30).status_code == 401


def test_too_many_messages_in_a_minute_is_429_with_retry_after(rasa_server, session_id):
    if time.time() % 60 > 50:  # keep the burst inside one rate-limit window
        time.sleep(61 - time.time() % 60)
    statuses = [chat(rasa_server, session_id, "oi").status_code for _ in range(CHAT_RATE_LIMIT)]
    assert statuses == [200] * CHAT_RATE_LIMIT
    limited = chat(rasa_server, session_id, "oi")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["field"] == "session_id"
    # another session is not affected
    assert chat(rasa_server, session_id + "-other", "oi").status_code == 200


# -- streaming ------------------------------------------------------------------


def sse_events(response: requests.Response) -> List[Tuple[str, dict]]:
    """Parse the raw text/event-stream body into (event, data) pairs."""
    events, event, data = [], None, []
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and event:
            events.append((event, json.loads("\n".join(data))))
            event, data = None, []
    return events


def test_stream_sends_each_reply_then_done(rasa_server, session_id):
    response = requests.get(
        f"{rasa_server.url}/api/v1/chat/stream",
        params={"session_id": session_id, "message": "oi"},
        headers=AUTH,
        stream=True,
        timeout=60,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    assert [name for name, _ in events][-1] == "done"
    messages = [data for name, data in events if name == "message"]
    assert messages and messages[0]["buttons"]
    assert events[-1][1]["count"] == len(messages)
    assert events[-1][1]["session_id"] == session_id


def test_stream_validates_like_the_post(rasa_server):
    response = requests.get(
        f"{rasa_server.url}/api/v1/chat/stream", params={"session_id": "abc"}, headers=AUTH, timeout=30
    )
    assert response.status_code == 422
    assert response.json()["field"] == "message"


@pytest.mark.parametrize("method, path, allowed", [
    ("POST", "/api/v1/chat/stream", "GET, OPTIONS"),
    ("DELETE", "/api/v1/chat/stream", "GET, OPTIONS"),
    ("GET", "/api/v1/chat", "POST, OPTIONS"),
    ("PUT", "/api/v1/chat/abc/messages", "GET, OPTIONS"),
])
def test_a_method_a_route_does_not_take_is_a_json_405(rasa_server, method, path, allowed):
    response = requests.request(method, f"{rasa_server.url}{path}", headers=AUTH, timeout=30)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json() == {"detail": f"method {method} is not allowed here; use {allowed}"}
    assert response.headers["X-Request-ID"]


# -- messages delivered later -----------------------------------------------------


def test_messages_sent_later_are_kept_for_the_client(rasa_server, session_id):
    assert chat(rasa_server, session_id, "oi").status_code == 200
    assert later(rasa_server, session_id).json()["messages"] == []

    trigger(rasa_server, f"api:{session_id}", "greet")
    first = later(rasa_server, session_id).json()
    assert len(first["messages"]) >= 1
    assert first["messages"][0]["text"] and first["messages"][0]["id"]
    assert first["last_id"] == first["messages"][-1]["id"]

    assert later(rasa_server, session_id, after=first["last_id"]).json()["messages"] == []
    trigger(rasa_server, f"api:{session_id}", "thank")
    newer = later(rasa_server, session_id, after=first["last_id"]).json()["messages"]
    assert newer and all(m["id"] > first["last_id"] for m in newer)
    assert [m["id"] for m in later(rasa_server, session_id).json()["messages"]] == [
        m["id"] for m in first["messages"] + newer
    ]


def test_messages_query_is_validated(rasa_server, session_id):
    assert later(rasa_server, session_id, after="yesterday").json()["field"] == "after"
    assert later(rasa_server, session_id, limit="0").status_code == 422
    assert later(rasa_server, session_id, since="1").json()["field"] == "since"


# -- CORS, health, metrics --------------------------------------------------------


def test_cors_allows_only_the_configured_origin(rasa_server, session_id):
    url = f"{rasa_server.url}/api/v1/chat"
    allowed = requests.post(
        url, json={"session_id": session_id, "message": "oi"},
        headers={**AUTH, "Origin": "https://provedor.example"}, timeout=60,
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://provedor.example"
    assert "X-Request-ID" in allowed.headers["Access-Control-Expose-Headers"]
    other = requests.post(
        url, json={"session_id": session_id, "message": "oi"},
        headers={**AUTH, "Origin": "https://evil.example"}, timeout=60,
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = requests.options(
        url, headers={"Origin": "https://provedor.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://provedor.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_health_reports_every_dependency(rasa_server):
    response = requests.get(f"{rasa_server.url}/health", headers=METRICS_AUTH, timeout=30)
    assert response.status_code == 200
    assert response.json() | {"model_id": None} == {
        "status": "healthy",
        "redis": "ok",
        "action_server": "ok",
        "model": "ok",
        "model_id": None,
        "llm": "not_configured",
        "version": "0.1.0",
        "rasa_version": "3.6.21",
    }


def test_metrics_count_messages_by_channel_and_intent(rasa_server, session_id):
    chat(rasa_server, session_id, "oi")
    chat(rasa_server, session_id, "quero a segunda via do boleto")
    requests.post(f"{rasa_server.url}/api/v1/chat", data="{", headers=AUTH, timeout=30)
    response = requests.get(f"{rasa_server.url}/metrics", headers=METRICS_AUTH, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert 'isp_messages_received_total{channel="rest_api",intent="greet"}' in text
    assert 'isp_messages_received_total{channel="rest_api",intent="request_invoice"}' in text
    assert 'isp_turn_duration_seconds_bucket{channel="rest_api",le="+Inf"}' in text
    assert 'isp_bot_messages_sent_total{channel="rest_api"}' in text
    assert 'isp_errors_total{channel="rest_api",kind="validation"}' in text


# -- Redis down ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory) -> Iterator[Dict[str, str]]:
    """A private redis-server this module may kill."""
    port, process = start_private_redis(tmp_path_factory.mktemp("redis"))
    yield {"port": str(port), "process": process}
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server_on_own_redis(model_path, server_env, log_dir, action_server, own_redis):
    env = dict(
        server_env,
        REDIS_URL=f"redis://127.0.0.1:{own_redis['port']}/0",
        REDIS_HOST="127.0.0.1",
        REDIS_PORT=own_redis["port"],
        REDIS_DB="0",
        REDIS_PASSWORD="",
    )
    server = RasaServer(model_path, env, log_dir, name="rasa-own-redis").start()
    yield server
    server.stop()


def test_redis_down_is_503_never_an_empty_answer(server_on_own_redis, own_redis, session_id):
    server = server_on_own_redis
    assert texts(chat(server, session_id, "oi").json())

    own_redis["process"].terminate()
    own_redis["process"].wait(timeout=10)

    down = chat(server, session_id, "quero a segunda via do boleto")
    assert down.status_code == 503
    assert "Redis" in down.json()["detail"]
    assert later(server, session_id).status_code == 503
    stream = requests.get(
        f"{server.url}/api/v1/chat/stream", params={"session_id": session_id, "message": "oi"},
        headers=AUTH, timeout=30,
    )
    assert stream.status_code == 503
    health = requests.get(f"{server.url}/health", headers=METRICS_AUTH, timeout=30)
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["redis"] == "unavailable"
    assert 'isp_errors_total{channel="rest_api",kind="unavailable"}' in requests.get(
        f"{server.url}/metrics", headers=METRICS_AUTH, timeout=30
    ).text
