"""``/desk/ws``: one agent's live connection (auth, desk events out, frames in).

The desk's pub/sub events (``bot.desk.events``) reach every replica, so an
agent connected here sees what happens on all; each event is forwarded only
if the agent may see it (the API's access rule). Frames in: ``auth``,
``ping``, ``join_conversation``, ``leave_conversation``, ``send_message``,
``typing_start``, ``typing_stop``. Close codes: 1008 (not authorised), 1011
(the desk store is unavailable).
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from sanic.exceptions import WebsocketClosed
from sanic.request import Request
from websockets.exceptions import ConnectionClosed

from bot import chat_input
from bot.desk import Desk
from bot.desk.errors import InvalidInput, Unauthorized
from bot.desk.users import OFFLINE, ONLINE, Agent
from bot.errors import AppError
from bot.metrics import record_unexpected
from channels.common.errors import UNAVAILABLE_ERRORS
from channels.desk.common import conversation_for, desk_auth, send_agent_message
from channels.desk.delivery import CustomerLine

logger = logging.getLogger(__name__)

WS_AUTH_SECONDS = 10
WS_PRESENCE_SECONDS = 30
FRAME_TYPES = ("join_conversation", "leave_conversation", "send_message", "typing_start",
               "typing_stop")


async def desk_ws(request: Request, ws: Any) -> None:
    """The Sanic WebSocket handler of ``/desk/ws``."""
    await DeskSocket(request, ws).serve()


class DeskSocket:
    """One agent's ``/desk/ws`` connection: auth, events out, frames in."""

    def __init__(self, request: Request, ws: Any):
        self.request, self.ws = request, ws
        self.agent: Optional[Agent] = None
        self.joined: set = set()
        self._lock = asyncio.Lock()

    async def send(self, kind: str, data: Dict[str, Any]) -> None:
        frame = {"type": kind, "data": data, "timestamp": datetime.now(timezone.utc).isoformat()}
        async with self._lock:
            await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def error(self, code: str, message: str) -> None:
        await self.send("error", {"code": code, "message": message})

    async def authenticate(self) -> bool:
        desk = Desk.shared()
        token = self.request.args.get("token")
        try:
            if not token:
                raw = await asyncio.wait_for(self.ws.recv(), WS_AUTH_SECONDS)
                first = chat_input.parse_json(raw, field="frame") if isinstance(raw, str) else {}
                if not isinstance(first, dict) or first.get("type") != "auth":
                    raise Unauthorized("send {type: auth, data: {token}} first")
                token = (first.get("data") or {}).get("token")
            self.agent = await desk_auth(desk).verify(token)
            return True
        except (AppError, ValueError, asyncio.TimeoutError) as error:  # bad or no token, no secret
            await self.ws.close(1008, f"unauthorized: {error}"[:120])
            return False

    async def serve(self) -> None:
        try:
            if not await self.authenticate():
                return
        except (ConnectionClosed, WebsocketClosed):
            return
        except UNAVAILABLE_ERRORS:
            await self.ws.close(1011, "desk store unavailable, retry later")
            return
        desk = Desk.shared()
        tasks: List[asyncio.Task] = []
        try:
            async with desk.events.subscribe() as stream:
                tasks = [asyncio.ensure_future(self.forward(stream)),
                         asyncio.ensure_future(self.presence())]
                await self.read_frames()
        except (ConnectionClosed, WebsocketClosed):
            pass
        except (*UNAVAILABLE_ERRORS, TimeoutError) as error:
            logger.error("desk ws: Redis unavailable: %s", error)
            await self.ws.close(1011, "desk store unavailable, retry later")
        finally:
            for task in tasks:
                task.cancel()

    async def forward(self, stream) -> None:
        try:
            async for event in stream:
                if event.visible_to(self.agent.username, self.agent.sees_everything, self.agent.departments):
                    await self.send(event.type, event.data)
        except (ConnectionClosed, WebsocketClosed, asyncio.CancelledError):
            pass
        except (*UNAVAILABLE_ERRORS, TimeoutError) as error:
            logger.error("desk ws: forwarding to %s stopped: %s", self.agent.username, error)
            await self.ws.close(1011, "desk events unavailable, reconnect")
        except Exception:  # a background loop: log the bug, tell the console to reconnect
            logger.exception("desk ws: forwarding to %s stopped", self.agent.username)
            record_unexpected("desk.ws.forward")
            await self.ws.close(1011, "desk events unavailable, reconnect")

    async def presence(self) -> None:
        """An open console counts as presence: keep the agent's status fresh."""
        users = Desk.shared().users
        while True:
            try:
                current = (await users.presence()).get(self.agent.username)
                status = current.status if current and current.status != OFFLINE else ONLINE
                await users.heartbeat(self.agent.username, status)
            except UNAVAILABLE_ERRORS as error:
                logger.warning("desk ws: presence of %s not refreshed: %s", self.agent.username, error)
            await asyncio.sleep(WS_PRESENCE_SECONDS)

    async def read_frames(self) -> None:
        while True:
            raw = await self.ws.recv()
            if raw is None:
                continue
            try:
                incoming = chat_input.parse_json(raw, field="frame")
                if not isinstance(incoming, dict) or not isinstance(incoming.get("type"), str):
                    raise ValueError
            except (ValueError, AppError):  # not JSON, too large, not an object
                await self.error("invalid_frame", "frame: JSON object {type, data}")
                continue
            try:
                await self.handle(incoming["type"], incoming.get("data") or {})
            except AppError as error:
                await self.error(error_code(error), error.message)
            except UNAVAILABLE_ERRORS:
                await self.error("unavailable", "the desk store (Redis) is not available")

    async def handle(self, kind: str, data: Dict[str, Any]) -> None:
        if kind == "ping":
            await self.send("pong", {})
            return
        if not isinstance(data, dict):
            raise InvalidInput("data", "must be an object")
        conversation_id = data.get("conversation_id")
        if kind not in FRAME_TYPES:
            raise InvalidInput("type", f"unknown frame type {kind[:40]!r}")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise InvalidInput("conversation_id", "is required")
        if kind == "leave_conversation":
            self.joined.discard(conversation_id)
            return
        conversation = await conversation_for(self.agent, conversation_id)
        if kind == "join_conversation":
            self.joined.add(conversation_id)
        elif kind == "send_message":
            await send_agent_message(self.request.app, self.agent, conversation_id,
                                     data.get("text"))
        else:
            typing = kind == "typing_start"
            await Desk.shared().events.publish("agent_typing", conversation,
                                               conversation_id=conversation_id,
                                               agent=self.agent.username, typing=typing)
            try:
                await CustomerLine(self.request.app).typing(conversation, typing)
            except Exception:  # typing is cosmetic: never fail the agent's frame for it
                logger.exception("desk: typing to %s not shown", conversation_id)
                record_unexpected("desk.ws.typing")


def error_code(error: AppError) -> str:
    """The ``error`` frame's code: ``rejected`` when the customer's channel refused
    the message (as before), else the error's class (``conflict``, ``forbidden``...)."""
    return "rejected" if error.field == "channel" else type(error).__name__.lower()
