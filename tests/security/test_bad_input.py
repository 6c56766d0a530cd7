"""Hostile input on every connector gets a 4xx naming the problem (or an error
frame, or Meta's acknowledgement), never a 500: issue 12, section 6.

Real ``rasa run`` (the session's ``rasa_server``), real HTTP and WebSocket clients.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import requests
import websockets

from tests.conftest import CHAT_API_KEY, texts
from tests.e2e.test_websocket_channel import frames_until, ws_url
from testing.widget_client import WidgetClient
from tests.e2e.test_whatsapp_channel import deliver, message, new_wa_id, notification, text, wait_text

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}
DEEP = "[" * 20_000 + "]" * 20_000
# JSON text of a message that is one lone surrogate: valid JSON, not encodable as
# UTF-8 (it made the CRF entity extractor fail, a 500)
LONE_SURROGATE = '"\\ud800"'


def session() -> str:
    return f"bad-{uuid.uuid4().hex[:12]}"


def assert_detail(response: requests.Response, status: int, field: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field and body["detail"].startswith(f"{field}") and words in body["detail"], body


# -- JSON nested 20,000 deep ---------------------------------------------------


def test_deep_json_on_the_chat_api_is_400(rasa_server):
    response = requests.post(f"{rasa_server.url}/api/v1/chat", data=DEEP, headers=AUTH, timeout=30)
    assert_detail(response, 400, "body", "nested deeper than 32 levels")


def test_deep_json_metadata_on_the_stream_is_422(rasa_server):
    metadata = "[" * 1_100 + "]" * 1_100  # what fits in a URL (8 KB); the decoder gives up near 1,000
    response = requests.get(f"{rasa_server.url}/api/v1/chat/stream", headers=AUTH, timeout=30,
                            params={"session_id": session(), "message": "oi", "metadata": metadata})
    assert_detail(response, 422, "metadata", "nested deeper than 32 levels")


def test_deep_json_on_desk_login_is_400(rasa_server):
    response = requests.post(f"{rasa_server.url}/desk/api/auth/login", data=DEEP, timeout=30)
    assert_detail(response, 400, "body", "nested deeper than 32 levels")


def test_deep_json_on_the_rest_webhook_is_400(rasa_server):
    response = requests.post(f"{rasa_server.url}/webhooks/rest/webhook", data=DEEP, headers=AUTH, timeout=30)
    assert_detail(response, 400, "body", "nested deeper than 32 levels")


def test_deep_json_on_the_websocket_is_an_error_frame_and_the_socket_stays_open(rasa_server):
    async def scenario():
        sid = session()
        async with websockets.connect(ws_url(rasa_server, sid)) as ws:
            assert json.loads(await ws.recv())["type"] == "connection"
            await ws.send(DEEP)
            [*_, error] = await frames_until(ws, "error")
            assert error["data"]["code"] == "invalid_json"
            assert "frame: nested deeper than 32 levels" in error["data"]["message"]
            await ws.send(json.dumps({"type": "ping", "id": "p1"}))
            [*_, pong] = await frames_until(ws, "pong")
            assert pong["data"]["reply_to"] == "p1"

    asyncio.run(scenario())


def test_deep_json_in_socketio_custom_data_is_an_error_and_the_socket_stays_usable(rasa_server):
    widget = WidgetClient(rasa_server.url).connect()
    try:
        widget.session()
        widget.sio.emit("user_uttered", {"message": "oi", "session_id": widget.session_id,
                                         "customData": "[" * 5_000 + "]" * 5_000})
        assert widget.next("error", timeout=10) == {
            "code": "invalid_request", "field": "customData", "detail": "customData: nested deeper than 32 levels"}
        assert widget.say("oi")
    finally:
        widget.close()


# -- a lone surrogate ("\ud800") in a message -----------------------------------


def test_lone_surrogate_on_the_chat_api_is_answered(rasa_server):
    body = '{"session_id": "%s", "message": %s}' % (session(), LONE_SURROGATE)
    response = requests.post(f"{rasa_server.url}/api/v1/chat", data=body.encode(), headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    assert " ".join(m.get("text", "") for m in response.json()["messages"]).strip()


def test_lone_surrogate_on_the_rest_webhook_is_answered(rasa_server):
    body = '{"sender": "%s", "message": %s}' % (session(), LONE_SURROGATE)
    response = requests.post(f"{rasa_server.url}/webhooks/rest/webhook", data=body.encode(), headers=AUTH,
                             timeout=60)
    assert response.status_code == 200, response.text
    assert texts(response.json()).strip()


def test_lone_surrogate_on_the_websocket_is_answered(rasa_server):
    async def scenario():
        async with websockets.connect(ws_url(rasa_server, session())) as ws:
            assert json.loads(await ws.recv())["type"] == "connection"
            await ws.send('{"type": "chat", "data": {"message": %s}}' % LONE_SURROGATE)
            frames = await frames_until(ws, "typing", lambda data: not data["active"])
            assert any(f["data"].get("text") for f in frames if f["type"] == "chat"), frames

    asyncio.run(scenario())


def test_lone_surrogate_on_whatsapp_is_answered(rasa_server, graph_api):
    wa_id = new_wa_id()
    raw = json.dumps(_notification(wa_id, text(wa_id, "SURROGATE"))).replace('"SURROGATE"', LONE_SURROGATE)
    assert deliver(rasa_server, None, raw=raw.encode()).status_code == 200
    wait_text(graph_api, wa_id, "")


# -- Rasa's REST webhook: bodies that are not an object ---------------------------


@pytest.mark.parametrize("raw, status, field, words", [
    (b'""', 422, "body", "must be a JSON object, got str"),
    (b"[]", 422, "body", "must be a JSON object, got list"),
    (b"null", 422, "body", "must be a JSON object, got NoneType"),
    (b"", 400, "body", "not valid JSON"),
    (b'{"message": "oi"}', 422, "sender", "is required"),
    (b'{"sender": 7, "message": "oi"}', 422, "sender", "must be a string"),
    (b'{"sender": "ok"}', 422, "message", "is required"),
    (b'{"sender": "ok", "message": {"text": "oi"}}', 422, "message", "must be a string"),
    (b'{"sender": "ok", "message": "oi", "metadata": "x"}', 422, "metadata", "must be an object"),
    (b'{"sender": "ok", "message": "oi", "input_channel": "whatsapp"}', 422, "input_channel", "unknown field"),
])
def test_rest_webhook_bad_bodies_name_the_problem(rasa_server, raw, status, field, words):
    response = requests.post(f"{rasa_server.url}/webhooks/rest/webhook", data=raw, headers=AUTH, timeout=30)
    assert_detail(response, status, field, words)


# -- WhatsApp: Meta's objects as strings, correctly signed ------------------------


def _notification(wa_id: str, *messages, metadata=None, profile=None):
    body = notification(*messages)
    value = body["entry"][0]["changes"][0]["value"]
    if metadata is not None:
        value["metadata"] = metadata
    if profile is not None:
        value["contacts"][0]["profile"] = profile
    return body


@pytest.mark.parametrize("kind, content", [
    ("text", "oi"),
    ("interactive", "oi"),
    ("interactive", {"type": "button_reply", "button_reply": "oi"}),
    ("button", "oi"),
    ("image", "oi"),
    ("reaction", "oi"),
])
def test_whatsapp_objects_as_strings_are_acknowledged_dropped_and_logged(rasa_server, graph_api, kind, content):
    wa_id = new_wa_id()
    answer = deliver(rasa_server, _notification(wa_id, message(wa_id, kind, content)))
    assert answer.status_code == 200, answer.text
    field = "button_reply" if isinstance(content, dict) else kind
    wait_for_log(rasa_server, f"{field} must be an object, got str (message dropped)")


@pytest.mark.parametrize("where", ["metadata", "profile"])
def test_whatsapp_metadata_or_profile_as_string_is_ignored_and_the_message_answered(rasa_server, graph_api, where):
    wa_id = new_wa_id()
    payload = _notification(wa_id, text(wa_id, "quero a segunda via"), **{where: "oi"})
    answer = deliver(rasa_server, payload)
    assert answer.status_code == 200, answer.text
    wait_text(graph_api, wa_id, "CPF ou CNPJ")
    wait_for_log(rasa_server, f"{where} must be an object, got str (ignored)")


def wait_for_log(server, snippet: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while snippet not in server.log_text():
        assert time.monotonic() < deadline, f"{snippet!r} not logged:\n{server.log_tail()}"
        time.sleep(0.2)


def test_rest_webhook_still_answers_after_all_this(rasa_server):
    assert "CPF ou CNPJ" in texts(rasa_server.send(session(), "me manda o boleto"))
