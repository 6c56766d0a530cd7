"""The socket.io connector (channels/socketio/) through a real socket.io client.

The shared Rasa server runs without a widget token secret (like `make run`);
a second Rasa process on the same Redis runs with SOCKETIO_JWT_SECRET set. It
also plays "another replica": what it delivers must reach a client connected
to the first one.
"""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import requests

from tests.conftest import CHAT_RATE_LIMIT, METRICS_AUTH, pass_step_up
from testing.rasa_server import RasaServer
from testing.widget_client import WidgetClient

pytestmark = pytest.mark.e2e

SECRET = "widget-test-secret-0123456789abcdef"
CPF_MARIA = "529.982.247-25"


def token(session_id: str, secret: str = SECRET, **claims) -> str:
    return jwt.encode({"session_id": session_id, **claims}, secret, algorithm="HS256")


@pytest.fixture
def client(rasa_server):
    widget = WidgetClient(rasa_server.url).connect()
    yield widget
    widget.close()


@pytest.fixture(scope="module")
def jwt_server(model_path, server_env, log_dir, action_server, redis_client):
    server = RasaServer(
        model_path, {**server_env, "SOCKETIO_JWT_SECRET": SECRET}, log_dir, name="rasa-socketio-jwt"
    ).start()
    yield server
    server.stop()


def texts(replies):
    return "\n".join(reply.get("text", "") for reply in replies)


def deliver(server: RasaServer, sender: str, events: list) -> None:
    """Bot messages sent outside a customer turn, as the desk does: Rasa's
    HTTP API asks our connector's get_output_channel() for the sender id."""
    response = server.api(
        "POST", f"/conversations/{sender}/tracker/events",
        params={"output_channel": "socketio", "execute_side_effects": "true"},
        json=events,
        timeout=30,
    )
    response.raise_for_status()


def test_session_request_confirms_a_new_session_or_the_one_asked_for(client):
    new = client.session()
    assert len(new) >= 16
    assert client.session("my-session-1") == "my-session-1"


def test_greeting_is_answered_with_quick_replies(client):
    client.session()
    client.sio.emit("user_uttered", {"message": "oi", "session_id": client.session_id})
    assert client.next("typing") == {"typing": True}
    replies = client.turn()
    last = replies[-1]
    assert set(last) == {"text", "quick_replies"}  # the shape rasa-webchat renders as buttons
    assert {"content_type": "text", "title": "2a via / PIX", "payload": "/request_invoice"} in last["quick_replies"]


def test_invoice_flow_by_buttons_as_sender_web_session(client, rasa_server, graph_api):
    session_id = client.session()
    asked = client.say("/request_invoice", customData={"language": "pt-BR", "page": "/planos"})
    assert "CPF" in texts(asked)
    invoice = pass_step_up(client.say, graph_api, CPF_MARIA)
    assert "Maria" in texts(invoice)
    assert "***.982.247-**" in texts(invoice)
    assert CPF_MARIA not in texts(invoice)

    tracker = rasa_server.tracker(f"web:{session_id}")
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert users[0]["input_channel"] == "socketio"
    assert {"language": "pt-BR", "page": "/planos"}.items() <= users[0]["metadata"].items()


def test_reconnecting_with_the_same_session_continues_the_conversation(rasa_server, graph_api):
    first = WidgetClient(rasa_server.url).connect()
    session_id = first.session()
    assert "CPF" in texts(first.say("quero a segunda via do boleto"))
    first.close()

    again = WidgetClient(rasa_server.url).connect()
    try:
        assert again.session(session_id) == session_id
        # the form asked for it before the reconnect
        replies = pass_step_up(again.say, graph_api, CPF_MARIA)
        assert "Maria" in texts(replies)
    finally:
        again.close()
    slots = rasa_server.tracker(f"web:{session_id}")["slots"]
    assert slots["customer_name"] == "Maria"


def test_every_tab_of_a_session_sees_the_replies(rasa_server):
    session_id = f"tabs-{uuid.uuid4().hex[:8]}"
    tab1 = WidgetClient(rasa_server.url).connect()
    tab2 = WidgetClient(rasa_server.url).connect()
    try:
        tab1.session(session_id)
        tab2.session(session_id)
        replies = tab1.say("oi")
        assert replies == tab2.turn()
    finally:
        tab1.close()
        tab2.close()


def test_output_channel_delivers_custom_payload_intact_image_and_buttons(client, rasa_server):
    session_id = client.session()
    custom = {"type": "pix", "payload": {"code": "00020126...6304ABCD", "amount": 99.9},
              "nested": [1, {"a": None}]}
    deliver(rasa_server, f"web:{session_id}", [
        {"event": "bot", "text": None, "data": {"custom": custom}},
        {"event": "bot", "text": "Sua fatura:", "data": {"image": "https://example.com/boleto.png"}},
        {"event": "bot", "text": "Posso ajudar em algo mais?",
         "data": {"buttons": [{"title": "Sim", "payload": "/affirm"}]}},
    ])
    assert client.next("bot_uttered", timeout=10) == custom
    assert client.next("bot_uttered", timeout=10) == {"text": "Sua fatura:"}
    assert client.next("bot_uttered", timeout=10) == {
        "attachment": {"type": "image", "payload": {"src": "https://example.com/boleto.png"}}}
    assert client.next("bot_uttered", timeout=10) == {
        "text": "Posso ajudar em algo mais?",
        "quick_replies": [{"content_type": "text", "title": "Sim", "payload": "/affirm"}]}


def test_a_message_from_another_replica_reaches_the_client(client, jwt_server):
    """Emits go through Redis (AsyncRedisManager): any Rasa process reaches the socket."""
    session_id = client.session()
    deliver(jwt_server, f"web:{session_id}", [{"event": "bot", "text": "Oi, aqui e a Joana, atendente."}])
    assert client.next("bot_uttered", timeout=10) == {"text": "Oi, aqui e a Joana, atendente."}


def test_bad_frames_get_an_error_naming_the_field_and_the_socket_stays_usable(client):
    def error_for(event, data):
        client.sio.emit(event, data)
        return client.next("error", timeout=10)

    assert error_for("user_uttered", {"message": "oi"})["field"] == "session_id"  # no session yet
    assert error_for("session_request", {"session_id": "x" * 200})["field"] == "session_id"
    assert error_for("session_request", "not an object")["field"] == "session_request"
    client.session()
    assert error_for("user_uttered", {"message": "", "session_id": client.session_id})["field"] == "message"
    assert error_for("user_uttered", {"message": 42, "session_id": client.session_id})["field"] == "message"
    long = {"message": "a" * 5000, "session_id": client.session_id}
    assert error_for("user_uttered", long)["field"] == "message"
    bad_meta = {"message": "oi", "session_id": client.session_id, "customData": "{not json"}
    assert error_for("user_uttered", bad_meta) == {
        "code": "invalid_request", "field": "customData", "detail": "customData is not valid JSON"}
    assert error_for("user_uttered", ["oi"])["field"] == "user_uttered"
    assert client.say("oi")  # still answered


def test_a_flooding_session_is_rate_limited_and_counted_in_metrics(client, rasa_server):
    """CHAT_RATE_LIMIT_PER_MINUTE per session (a fixed minute window: 2 x limit + 1 always trips it)."""
    client.session()
    for _ in range(2 * CHAT_RATE_LIMIT + 1):
        client.sio.emit("user_uttered", {"message": "/greet", "session_id": client.session_id})
        name, data = client.events.get(timeout=60)
        while name not in ("error",) and not (name == "typing" and data == {"typing": False}):
            name, data = client.events.get(timeout=60)
        if name == "error":
            break
    assert data["code"] == "rate_limited" and data["field"] == "message"
    assert 1 <= data["retry_after"] <= 60
    metrics = requests.get(f"{rasa_server.url}/metrics", headers=METRICS_AUTH, timeout=10).text
    assert 'channel="socketio"' in metrics


def test_jwt_is_required_when_configured(jwt_server):
    def refusal(**connect_args):
        return WidgetClient(jwt_server.url).refused(**connect_args)

    assert refusal() == {"message": "invalid token: token is missing", "data": {"field": "token"}}
    wrong_secret = refusal(auth={"token": token("s1", secret="another-secret-0123456789abcdef0123")})
    assert wrong_secret["message"] == "invalid token: Signature verification failed"
    expired = refusal(auth={"token": token("s1", exp=int(time.time()) - 60)})
    assert expired["message"] == "invalid token: Signature has expired"
    assert refusal(query="?token=garbage")["message"].startswith("invalid token")


def test_a_valid_token_gets_its_own_session_and_no_other(jwt_server):
    session_id = f"jwt-{uuid.uuid4().hex[:8]}"
    widget = WidgetClient(jwt_server.url).connect(auth={"token": token(session_id)})
    try:
        assert widget.session() == session_id  # the widget's first request carries no id
        assert widget.session(session_id) == session_id
        widget.sio.emit("session_request", {"session_id": "someone-else"})
        assert widget.next("error", timeout=10) == {
            "code": "forbidden", "field": "session_id", "detail": "the token is for another session"}
        widget.sio.emit("user_uttered", {"message": "oi", "session_id": "someone-else"})
        assert widget.next("error", timeout=10)["code"] == "forbidden"
        assert widget.say("oi")[-1]["quick_replies"]
    finally:
        widget.close()


def test_the_token_may_come_in_the_query_string(jwt_server):
    """rasa-webchat cannot pass socket.io `auth`; the page puts ?token= in the socket URL."""
    session_id = f"jwtq-{uuid.uuid4().hex[:8]}"
    widget = WidgetClient(jwt_server.url).connect(query=f"?token={token(session_id)}")
    try:
        assert widget.session() == session_id
    finally:
        widget.close()
