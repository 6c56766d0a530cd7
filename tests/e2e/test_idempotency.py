"""Idempotency keys (channels/common/idempotency.py) with real Rasa: a retry with the
same Idempotency-Key never gives a second turn, it gets the first answer; another
key is another turn; concurrent duplicates make one turn."""
from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import List

import jwt
import pytest
import requests
import websockets

from tests.conftest import CHAT_API_KEY, WEBSOCKET_JWT_SECRET

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}


def user_turns(server, sender: str) -> int:
    return sum(1 for event in server.tracker(sender)["events"] if event["event"] == "user")


def chat(server, session_id: str, key: str, message: str = "oi") -> requests.Response:
    return requests.post(f"{server.url}/api/v1/chat", json={"session_id": session_id, "message": message},
                         headers={**AUTH, "Idempotency-Key": key}, timeout=60)


def webhook(server, sender: str, key: str, message: str = "oi") -> requests.Response:
    return requests.post(f"{server.url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                         headers={**AUTH, "Idempotency-Key": key}, timeout=60)


def test_the_same_key_twice_is_one_turn_with_the_same_answer(rasa_server):
    session = f"idem-{uuid.uuid4().hex[:10]}"
    first = chat(rasa_server, session, "order-1")
    again = chat(rasa_server, session, "order-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert user_turns(rasa_server, f"api:{session}") == 1
    other = chat(rasa_server, session, "order-2")
    assert other.status_code == 200 and "Idempotent-Replayed" not in other.headers
    assert user_turns(rasa_server, f"api:{session}") == 2


def test_the_rest_webhook_takes_the_key_too(rasa_server):
    sender = f"idem-{uuid.uuid4().hex[:10]}"
    first, again = webhook(rasa_server, sender, "k-1"), webhook(rasa_server, sender, "k-1")
    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert user_turns(rasa_server, sender) == 1
    assert webhook(rasa_server, sender, "k-2").status_code == 200
    assert user_turns(rasa_server, sender) == 2


def test_a_key_is_per_sender(rasa_server):
    one, two = f"idem-{uuid.uuid4().hex[:10]}", f"idem-{uuid.uuid4().hex[:10]}"
    assert chat(rasa_server, one, "same").status_code == 200
    assert "Idempotent-Replayed" not in chat(rasa_server, two, "same").headers
    assert user_turns(rasa_server, f"api:{two}") == 1


def test_concurrent_duplicates_are_one_turn(rasa_server):
    session = f"idem-{uuid.uuid4().hex[:10]}"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: chat(rasa_server, session, "burst"), range(4)))
    ok = [answer for answer in answers if answer.status_code == 200]
    # a duplicate waits for the first answer (IDEMPOTENCY_WAIT_SECONDS), else a 409 naming the key
    assert all(a.status_code == 409 and a.json()["field"] == "Idempotency-Key"
               for a in answers if a.status_code != 200), [a.text for a in answers]
    assert ok and all(answer.json() == ok[0].json() for answer in ok)
    assert user_turns(rasa_server, f"api:{session}") == 1


def test_a_key_reused_for_another_message_is_422(rasa_server):
    session = f"idem-{uuid.uuid4().hex[:10]}"
    assert chat(rasa_server, session, "k", "oi").status_code == 200
    reused = chat(rasa_server, session, "k", "quero a segunda via do boleto")
    assert reused.status_code == 422 and reused.json()["field"] == "Idempotency-Key"
    assert user_turns(rasa_server, f"api:{session}") == 1


@pytest.mark.parametrize("key", ["", "a b", "x" * 129, "ção"], ids=["empty", "space", "long", "non-ascii"])
def test_a_bad_key_is_422_naming_the_header(rasa_server, key):
    session = f"idem-{uuid.uuid4().hex[:10]}"
    for answer in (chat(rasa_server, session, key), webhook(rasa_server, session, key)):
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "Idempotency-Key" and "visible ASCII" in answer.json()["detail"]


async def ws_turn(ws, frame_id, message: str = "oi") -> List[dict]:
    """A chat frame with ``id``; the frames up to typing off (or the error frame)."""
    await ws.send(json.dumps({"type": "chat", "data": {"message": message}, "id": frame_id}))
    frames = []
    while True:
        frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        if frames[-1]["type"] == "error" or frames[-1] == {**frames[-1], "type": "typing", "data": {"active": False}}:
            return frames


def ws_connect(server, session: str):
    token = jwt.encode({"session_id": session}, WEBSOCKET_JWT_SECRET, algorithm="HS256")
    return websockets.connect(f"{server.url.replace('http', 'ws')}/ws/chat/{session}?token={token}")


def chats(frames: List[dict]) -> List[dict]:
    return [frame["data"] for frame in frames if frame["type"] == "chat"]


def test_a_websocket_frame_id_is_one_turn_also_across_reconnects(rasa_server):
    session = f"idem-{uuid.uuid4().hex[:10]}"

    async def scenario():
        async with ws_connect(rasa_server, session) as ws:
            await ws.recv()  # connection
            first = await ws_turn(ws, "w-1")
            again = await ws_turn(ws, "w-1")
            assert chats(first) and chats(again) == chats(first)
        async with ws_connect(rasa_server, session) as ws:  # the client lost the socket and retries
            await ws.recv()
            assert chats(await ws_turn(ws, "w-1")) == chats(first)
            assert user_turns(rasa_server, f"web:{session}") == 1
            assert chats(await ws_turn(ws, "w-2"))
            assert user_turns(rasa_server, f"web:{session}") == 2
            for bad in ("a b", "x" * 129, 7):
                error = (await ws_turn(ws, bad))[-1]
                assert error["type"] == "error" and error["data"]["code"] == "invalid_message"
                assert error["data"]["field"] == "id"
            assert user_turns(rasa_server, f"web:{session}") == 2

    asyncio.run(scenario())
