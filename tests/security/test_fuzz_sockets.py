"""Fuzz of the two socket channels on the shared Rasa server.

- WebSocket ``/ws/chat/<id>`` (channels/websocket/): junk text frames
  (JSON of any shape, deep nesting, non-JSON, lone surrogates), binary and
  oversized frames, junk session ids and tokens at the handshake.
- socket.io (channels/socketio/): raw Engine.IO/Socket.IO packets over the
  websocket transport, as a browser would send them: well-formed events
  (``session_request``, ``user_uttered``, unknown names) with junk data, and
  malformed packets; junk handshakes over the polling transport.

Properties: the handshake never answers 5xx; the server never reports an
internal error (WebSocket ``internal_error`` frame or close 1011, socket.io
``error`` event with code ``internal``); after each frame the connection
either answers a ping/session probe or was closed on purpose (1008/1009);
no traceback in the logs; and afterwards "oi" is greeted on both channels.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from typing import Optional, Tuple

import jwt
import pytest
import requests
import websocket
import websockets
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import WEBSOCKET_JWT_SECRET
from tests.security.conftest import (DEEP, HUGE, JUNK, LONE_SURROGATES, LogWindow, Outcomes, dumps,
                                     fuzz_settings, junk_value, socketio_greets, url_text, websocket_greets)

pytestmark = pytest.mark.e2e

WS_OK_CLOSES = (1000, 1008, 1009, 1013)
MESSAGES = st.one_of(st.text(min_size=1, max_size=60), st.tuples(st.text(max_size=10), LONE_SURROGATES).map("".join))

# One client frame: (text or bytes)
WS_FRAMES = st.one_of(
    junk_value().map(lambda v: dumps(v).decode()),
    DEEP,
    st.text(max_size=100),
    st.binary(max_size=100),
    st.builds(lambda kind, data, fid: json.dumps({"type": kind, "data": data, "id": fid}),
              st.sampled_from(["chat", "ping", "typing", "error", "pong", "connection", "x" * 100]),
              JUNK, JUNK),
    st.builds(lambda message, meta: json.dumps({"type": "chat", "data": {"message": message, "metadata": meta}}),
              MESSAGES, st.one_of(st.none(), JUNK)),
    HUGE.map(lambda big: json.dumps({"type": "chat", "data": {"message": big}})),
)


def ws_token(session_id: str) -> str:
    return jwt.encode({"session_id": session_id}, WEBSOCKET_JWT_SECRET, algorithm="HS256")


async def ws_case(base: str, session_id: str, token: str, frame) -> Tuple[str, int, str]:
    """(what happened, status or close code, detail) for one frame on a new connection."""
    url = f"{base}/ws/chat/{url_text(session_id)}?token={url_text(token)}"
    try:
        ws = await websockets.connect(url, max_size=2 ** 22, open_timeout=30)
    except websockets.InvalidStatusCode as refused:
        return "handshake", refused.status_code, ""
    try:
        try:
            await ws.recv()  # connection frame, or the close for a bad token
            await ws.send(frame)
            await ws.send(json.dumps({"type": "ping", "id": "probe"}))
            while True:
                got = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if got["type"] == "error" and got["data"].get("code") == "internal_error":
                    return "internal_error", 500, json.dumps(got)[:200]
                if got["type"] == "pong" and got["data"].get("reply_to") == "probe":
                    return "alive", 101, ""
        except websockets.ConnectionClosed:
            return "closed", ws.close_code or 1006, ws.close_reason or ""
    finally:
        await ws.close()


def test_fuzz_websocket_frames(rasa_server, action_server, figures):
    outcomes = Outcomes("WebSocket /ws/chat/<id>")
    window = LogWindow(rasa_server, action_server)
    base = rasa_server.url.replace("http", "ws")

    def allowed(status: int) -> bool:
        return status in (101, 403, 404, 400) or status in WS_OK_CLOSES

    junk_handshake = st.tuples(st.text(min_size=1, max_size=30), st.text(max_size=30))

    @fuzz_settings(200)
    @given(frame=WS_FRAMES,  # one connection in five with a junk session id and token
           handshake=st.integers(0, 4).flatmap(lambda n: junk_handshake if n == 2 else st.none()))
    @example(frame="[" * 20_000 + "]" * 20_000, handshake=None)
    @example(frame=json.dumps({"type": "chat", "data": {"message": "oi \ud800"}}), handshake=None)
    def frame_case(frame, handshake: Optional[Tuple[str, str]]) -> None:
        session_id, token = handshake or (f"fz-{uuid.uuid4().hex[:12]}", None)
        what, status, detail = asyncio.run(ws_case(base, session_id, token or ws_token(session_id), frame))
        why = " ".join(detail.split()[:2]).rstrip(":") if what == "closed" else what
        outcomes.record(f"WS /ws/chat/<id> ({why})", status, f"{frame[:200]!r} {handshake!r} {detail}", allowed)

    frame_case()
    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    greets = websocket_greets(rasa_server)
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
    assert greets, "after the fuzz the WebSocket no longer greets 'oi'"


# --- socket.io ---------------------------------------------------------------

EVENTS = st.sampled_from(["session_request", "user_uttered", "connect", "disconnect", "message", "error", "x"])
SIO_PACKETS = st.one_of(
    # a well-formed event with junk arguments
    st.builds(lambda event, args: "42" + dumps([event, *args]).decode(), EVENTS, st.lists(junk_value(), max_size=3)),
    st.builds(lambda message, sid, meta: "42" + dumps(["user_uttered", {"message": message, "session_id": sid,
                                                                          "customData": meta}]).decode(),
              MESSAGES, st.one_of(st.none(), st.text(max_size=20), JUNK), st.one_of(st.none(), JUNK, st.text(max_size=30))),
    # malformed Socket.IO / Engine.IO packets
    st.builds(lambda prefix, rest: prefix + rest,
              st.sampled_from(["4", "42", "43", "45", "46", "41", "40", "2", "3", "6", "9", "42/x,", "451-", ""]),
              st.one_of(st.text(max_size=60), junk_value().map(lambda v: dumps(v).decode()), DEEP)),
    st.binary(max_size=60),
)


def sio_case(base: str, packet) -> Tuple[str, int, str]:
    """(what happened, code, detail) for one packet on a fresh socket.io connection."""
    ws = websocket.create_connection(f"{base}/socket.io/?EIO=4&transport=websocket", timeout=5)
    try:
        ws.recv()  # Engine.IO open
        ws.send("40")
        ws.recv()  # namespace connected
        if isinstance(packet, bytes):
            ws.send_binary(packet)
        else:
            ws.send(packet)
        probe = f"probe-{uuid.uuid4().hex[:8]}"
        ws.send("42" + json.dumps(["session_request", {"session_id": probe}]))
        while True:
            got = ws.recv()
            if got == "2":  # Engine.IO ping
                ws.send("3")
                continue
            if isinstance(got, str) and got.startswith("42"):
                event = json.loads(got[2:])
                if event[0] == "error" and isinstance(event[1], dict) and event[1].get("code") == "internal":
                    return "internal", 500, got[:200]
                if event == ["session_confirm", probe]:
                    return "alive", 200, ""
            if got == "" or (isinstance(got, str) and got.startswith("1")):
                return "closed", 200, ""
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return "closed", 200, ""
    except websocket.WebSocketTimeoutException:
        # a client "41" (leave the namespace) or "45" (binary event waiting for its
        # attachments) leaves the probe unanswered by design
        return "silent", 200, ""
    finally:
        ws.close()


def test_fuzz_socketio_frames(rasa_server, action_server, figures):
    outcomes = Outcomes("socket.io")
    window = LogWindow(rasa_server, action_server)
    base = rasa_server.url.replace("http", "ws")

    @fuzz_settings(150)
    @given(packet=SIO_PACKETS)
    @example(packet="42" + json.dumps(["user_uttered", {"message": "oi \ud800", "session_id": "fz-sur"}]))
    @example(packet="42" + "[" * 20_000 + "]" * 20_000)
    def packet_case(packet) -> None:
        what, status, detail = sio_case(base, packet)
        outcomes.record(f"socket.io packet ({what})", status, f"{packet[:200]!r} {detail}")

    @fuzz_settings(60)
    @given(params=st.dictionaries(st.sampled_from(["EIO", "transport", "sid", "t", "token"]),
                                  st.one_of(st.text(max_size=20), st.sampled_from(["4", "3", "polling", "websocket"])),
                                  max_size=5))
    def handshake_case(params) -> None:
        query = "&".join(f"{url_text(k)}={url_text(v)}" for k, v in params.items())
        answer = requests.get(f"{rasa_server.url}/socket.io/?{query}", timeout=30)
        outcomes.record("GET /socket.io/ (polling handshake)", answer.status_code, query)

    packet_case()
    handshake_case()
    tracebacks = window.tracebacks()
    figures.add(outcomes.summary() + f", {len(tracebacks)} tracebacks in the logs")
    greets = socketio_greets(rasa_server)
    problems = outcomes.distinct_failures() + tracebacks[:5]
    assert not problems, "\n".join(problems)
    assert greets, "after the fuzz socket.io no longer greets 'oi'"
