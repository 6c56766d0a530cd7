"""A customer typing reaches the atendente who has the conversation (WebSocket and socket.io).

Real Rasa with the desk, real Redis; the atendente listens on /desk/ws. While
the bot has the customer (before the handoff is claimed) nothing is
published; a bad report gets an error and the chat goes on.
"""
from __future__ import annotations

import asyncio
import json
import queue
import uuid

import pytest
import websockets

from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_websocket_channel import ws_url
from testing.widget_client import WidgetClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def agent(rasa_server, redis_settings, key_prefix):
    desk_agent = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online().connect()
    yield desk_agent
    desk_agent.close()


def typing_events(agent, conversation_id: str, timeout: float = 2.0) -> list:
    """The customer_typing events of one conversation that arrive within ``timeout``."""
    seen = []
    try:
        while True:
            seen.append(agent.event("customer_typing", lambda d: d["conversation_id"] == conversation_id,
                                    timeout=timeout)["typing"])
    except (AssertionError, queue.Empty, TimeoutError):
        return seen


def test_a_websocket_customer_typing_is_shown_to_their_atendente(rasa_server, agent):
    session_id = f"wst-{uuid.uuid4().hex[:10]}"
    url = ws_url(rasa_server, session_id)

    async def frame(ws, kind):
        while True:
            got = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if got["type"] == kind:
                return got["data"]

    async def typing(ws, active):
        await ws.send(json.dumps({"type": "typing", "data": {"active": active}}))

    async def scenario():
        async with websockets.connect(url) as ws:
            await frame(ws, "connection")
            await ws.send(json.dumps({"type": "chat", "data": {"message": "quero falar com um atendente"}}))
            loop = asyncio.get_running_loop()
            queued = await loop.run_in_executor(None, agent.find_queued, f"web:{session_id}")
            await typing(ws, False)  # still in the queue: nobody to show it to
            assert await loop.run_in_executor(None, typing_events, agent, queued["id"], 1.0) == []
            await loop.run_in_executor(None, lambda: agent.ok("POST", f"/conversations/{queued['id']}/claim"))
            for active in (True, True, True, False):  # the repeats inside 3 s are thinned out
                await typing(ws, active)
            assert await loop.run_in_executor(None, typing_events, agent, queued["id"]) == [True, False]
            await ws.send(json.dumps({"type": "typing", "data": {"active": "sim"}}))
            error = await frame(ws, "error")
            assert error["code"] == "invalid_frame" and error["field"] == "data.active"
            await ws.send(json.dumps({"type": "ping"}))
            await frame(ws, "pong")  # the socket stays up
            await loop.run_in_executor(None, lambda: agent.ok(
                "POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"}))

    asyncio.run(scenario())


def test_a_widget_customer_typing_is_shown_to_their_atendente(rasa_server, agent):
    widget = WidgetClient(rasa_server.url).connect()
    try:
        widget.sio.emit("user_typing", {"typing": True})  # before session_request
        assert widget.next("error", timeout=10)["field"] == "typing"
        session_id = widget.session()
        widget.say("quero falar com um atendente")
        queued = agent.find_queued(f"web:{session_id}")
        agent.ok("POST", f"/conversations/{queued['id']}/claim")
        widget.sio.emit("user_typing", {"typing": True})
        assert typing_events(agent, queued["id"]) == [True]
        widget.sio.emit("user_typing", {"typing": False})
        assert typing_events(agent, queued["id"]) == [False]
        widget.sio.emit("user_typing", {"typing": "x"})
        assert widget.next("error", timeout=10)["field"] == "typing"
        agent.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "ok"})
    finally:
        widget.close()
