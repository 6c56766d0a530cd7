"""The plain WebSocket chat (channels/websocket/) with the `websockets` client
against the real Rasa server, actions and Redis."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from typing import List

import jwt
import pytest
import requests
import websockets

from tests.conftest import WEBSOCKET_JWT_SECRET
from testing.rasa_server import RasaServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def session_id() -> str:
    return f"w-{uuid.uuid4().hex[:12]}"


def token(session_id: str, **claims) -> str:
    return jwt.encode({"session_id": session_id, **claims}, WEBSOCKET_JWT_SECRET, algorithm="HS256")


def ws_url(server, session_id: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"token": token(session_id), **params}.items())
    return f"{server.url.replace('http', 'ws')}/ws/chat/{session_id}?{query}"


async def frames_until(ws, kind: str, data_check=lambda data: True, limit: int = 20) -> List[dict]:
    """Frames received up to and including the first ``kind`` frame that passes ``data_check``."""
    seen = []
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        seen.append(frame)
        if frame["type"] == kind and data_check(frame["data"]):
            return seen
    raise AssertionError(f"no {kind} frame in {seen}")


@asynccontextmanager
async def connect(server, session_id: str, **params):
    """An open chat socket, past its ``connection`` frame."""
    async with websockets.connect(ws_url(server, session_id, **params)) as ws:
        opened = json.loads(await ws.recv())
        assert opened["type"] == "connection"
        assert opened["data"]["session_id"] == session_id
        yield ws


async def chat_turn(ws, message: str) -> List[dict]:
    """Send a chat frame; the frames of the whole turn (typing on ... typing off)."""
    # a new id per message: the id is the frame's idempotency key (the same id again is a replay)
    await ws.send(json.dumps({"type": "chat", "data": {"message": message}, "id": f"c-{uuid.uuid4().hex}"}))
    return await frames_until(ws, "typing", lambda data: data["active"] is False)


def run(coroutine):
    return asyncio.run(coroutine)


def trigger(server, sender: str, intent: str) -> None:
    """A bot message outside the customer's turn (as the desk sends one): Rasa
    delivers it through the conversation's channel via get_output_channel()."""
    response = server.api(
        "POST", f"/conversations/{sender}/trigger_intent",
        params={"output_channel": "latest"}, json={"name": intent}, timeout=60,
    )
    response.raise_for_status()


def test_a_chat_turn_sends_typing_then_the_replies(rasa_server, session_id):
    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            frames = await chat_turn(ws, "oi")
            assert frames[0]["type"] == "typing" and frames[0]["data"] == {"active": True}
            replies = [f for f in frames if f["type"] == "chat"]
            assert replies and replies[0]["data"]["text"]
            assert {"title": "2a via / PIX", "payload": "/request_invoice"} in replies[0]["data"]["buttons"]
            for frame in frames:
                assert set(frame) == {"type", "data", "timestamp", "id"}
            frames = await chat_turn(ws, "quero a segunda via do boleto")
            assert any("CPF ou CNPJ" in f["data"].get("text", "") for f in frames if f["type"] == "chat")

    run(scenario())
    assert rasa_server.tracker(f"web:{session_id}")["latest_input_channel"] == "websocket"


def test_ping_gets_pong(rasa_server, session_id):
    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            await ws.send(json.dumps({"type": "ping", "id": "p-1"}))
            pong = json.loads(await ws.recv())
            assert pong["type"] == "pong" and pong["data"]["reply_to"] == "p-1"

    run(scenario())


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "invalid_json"),
        ('["chat"]', "invalid_frame"),
        ('{"data": {}}', "invalid_frame"),
        ('{"type": "subscribe"}', "unknown_type"),
        ('{"type": "chat", "data": {}}', "invalid_message"),
        ('{"type": "chat", "data": {"message": 5}}', "invalid_message"),
        ('{"type": "chat", "data": {"message": "oi", "extra": 1}}', "invalid_message"),
        ('{"type": "chat", "data": "oi"}', "invalid_message"),
        (b"\x00\x01", "invalid_frame"),
    ],
)
def test_a_bad_frame_gets_an_error_and_the_connection_stays_up(rasa_server, session_id, raw, code):
    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            await ws.send(raw)
            error = json.loads(await ws.recv())
            assert error["type"] == "error"
            assert error["data"]["code"] == code
            assert error["data"]["message"]
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv())["type"] == "pong"

    run(scenario())


def test_a_frame_over_64_kb_closes_with_1009(rasa_server, session_id):
    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            await ws.send(json.dumps({"type": "chat", "data": {"message": "x" * 70_000}}))
            error = json.loads(await ws.recv())
            assert error["data"]["code"] == "too_large"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1009

    run(scenario())


@pytest.mark.parametrize(
    "make_token",
    [
        lambda sid: None,
        lambda sid: "not-a-jwt",
        lambda sid: token("someone-else"),
        lambda sid: token(sid, exp=int(time.time()) - 10),
        lambda sid: jwt.encode({"session_id": sid}, "another-secret-of-32-bytes-or-more", algorithm="HS256"),
    ],
    ids=["missing", "garbage", "other-session", "expired", "wrong-secret"],
)
def test_an_invalid_token_closes_with_1008(rasa_server, session_id, make_token):
    value = make_token(session_id)
    url = f"{rasa_server.url.replace('http', 'ws')}/ws/chat/{session_id}"
    if value:
        url += f"?token={value}"

    async def scenario():
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.code == 1008
            assert "token" in closed.value.reason

    run(scenario())


def test_an_idle_connection_is_closed(rasa_server, session_id):
    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 30)
            assert closed.value.code == 1000 and closed.value.reason == "idle timeout"
            assert time.monotonic() - started >= 3  # WEBSOCKET_IDLE_TIMEOUT_SECONDS=4 in the tests

    run(scenario())


def test_a_message_sent_later_reaches_the_open_socket_and_is_kept(rasa_server, session_id):
    sender = f"web:{session_id}"

    async def scenario():
        async with connect(rasa_server, session_id) as ws:
            await chat_turn(ws, "oi")
            await asyncio.get_running_loop().run_in_executor(None, trigger, rasa_server, sender, "greet")
            pushed = (await frames_until(ws, "chat"))[-1]
            assert pushed["data"]["text"]
            return pushed["id"]

    first_id = run(scenario())
    # offline now: the next one is kept, and handed over on reconnect with ?after=
    trigger(rasa_server, sender, "thank")

    async def reconnect():
        async with connect(rasa_server, session_id, after=first_id) as ws:
            missed = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert missed["type"] == "chat" and missed["id"] > first_id

    run(reconnect())


@pytest.fixture(scope="module")
def second_replica(model_path, server_env, log_dir, action_server):
    """Another `rasa run` on the same Redis, as behind a load balancer."""
    server = RasaServer(model_path, server_env, log_dir, name="rasa-replica-2").start()
    yield server
    server.stop()


def test_a_message_from_another_replica_reaches_the_socket(rasa_server, second_replica, session_id):
    async def scenario():
        async with connect(second_replica, session_id) as ws:
            await chat_turn(ws, "oi")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, trigger, rasa_server, f"web:{session_id}", "greet")
            pushed = (await frames_until(ws, "chat"))[-1]
            assert pushed["data"]["text"]

    run(scenario())
