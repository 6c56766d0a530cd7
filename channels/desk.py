"""The atendentes' desk: ``/desk/api/...``, ``/desk/ws`` and the console at ``/desk/``.

Loaded from ``credentials.yml`` as ``channels.desk.DeskInput:``. It receives
no customer messages itself: customers stay on their own channel. The API
(contract in the README, "Atendentes (desk)") acts on the desk state in
Redis (``bot.desk``) and speaks to customers through their channel's
``get_output_channel()`` (``channels.desk_delivery``); ``/desk/ws`` forwards
the desk's pub/sub events (``bot.desk.events``), so an agent connected to
any replica sees what happens on all. Customers' messages reach the desk
through the event broker (``channels.desk_broker``).

Errors are JSON ``{"detail", "field"?}``: 400 bad JSON, 401 no/invalid token,
403 not allowed, 404 unknown, 409 state conflict, 422 a bad field, 429 login
limit, 502 the customer's channel refused a message, 503 Redis (or
``DESK_JWT_SECRET``) unavailable.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.lock_store import LockError
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.exceptions import WebsocketClosed
from sanic.request import Request
from sanic.response import HTTPResponse
from websockets.exceptions import ConnectionClosed

from bot import chat_input
from bot.desk import Desk
from bot.desk import handoff as texts
from bot.desk.auth import Auth
from bot.desk.conversations import IN_PROGRESS, STATUSES, Conversation, can_access, require_access
from bot.desk.errors import Conflict, DeskError, Forbidden, InvalidInput, Unauthorized
from bot.desk.metrics import agents_status, desk_metrics
from bot.desk.users import ADMIN, AWAY, OFFLINE, ONLINE, Agent
from bot.pii import mask_pii
from bot.settings import SettingsError
from channels.common.errors import error_response
from channels.desk_broker import iso, message_of
from channels.desk_delivery import CustomerLine, Undeliverable
from channels.desk_positions import start_position_notices

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "desk_console"
MAX_TEXT = 4096
MAX_BODY_BYTES = 64 * 1024
WS_AUTH_SECONDS = 10
WS_PRESENCE_SECONDS = 30
TRANSCRIPT_MAX = 500


class ApiError(Exception):
    def __init__(self, status: int, detail: str, field: Optional[str] = None, headers=None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.headers = status, detail, field, headers or {}


def _error(status: int, detail: str, field: Optional[str] = None, headers=None) -> HTTPResponse:
    body: Dict[str, Any] = {"detail": detail}
    if field:
        body["field"] = field
    return response.json(body, status=status, headers=headers)


def _body(request: Request, allowed: tuple) -> Dict[str, Any]:
    try:
        data = chat_input.parse_json(request.body or b"{}", max_bytes=MAX_BODY_BYTES)
    except chat_input.TooLarge as error:
        raise ApiError(413, str(error), "body") from None
    except chat_input.MalformedJson as error:
        raise ApiError(400, f"body: not valid JSON ({error})", "body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body: must be a JSON object", "body")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field (allowed: {', '.join(allowed)})")
    return data


def _message_text(value: Any, field: str = "text") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "is required (1 to 4096 characters)")
    if len(value) > MAX_TEXT:
        raise InvalidInput(field, f"at most {MAX_TEXT} characters")
    return value.strip()


def _time_arg(request: Request, name: str) -> Optional[float]:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(name, "an ISO 8601 date/time or a Unix timestamp") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def conversation_view(conversation: Conversation, position: Optional[int] = None,
                      now: Optional[float] = None) -> Dict[str, Any]:
    """The contract's conversation object (phone masked, times ISO 8601)."""
    customer = {key: value for key, value in (
        ("name", conversation.customer_name),
        ("phone_masked", mask_pii(conversation.customer_phone)),
        ("contract_id", conversation.customer_contract)) if value}
    view: Dict[str, Any] = {
        "id": conversation.id, "status": conversation.status, "channel": conversation.channel,
        "sender_id": conversation.sender_id, "customer": customer,
        "reason": conversation.reason, "priority": conversation.priority,
        "summary": conversation.summary, "created_at": iso(conversation.created_at),
    }
    optional = {
        "protocol": conversation.protocol or None, "agent": conversation.agent,
        "claimed_at": iso(conversation.claimed_at) if conversation.claimed_at else None,
        "closed_at": iso(conversation.closed_at) if conversation.closed_at else None,
        "csat": conversation.csat, "resolution": conversation.resolution or None,
        "notes": conversation.notes or None, "transfers": conversation.transfers or None,
    }
    view.update({key: value for key, value in optional.items() if value is not None})
    if position is not None:
        view["position"] = position
        view["wait_seconds"] = max(0, round((now or time.time()) - conversation.created_at))
    return view


class DeskInput(InputChannel):
    """The desk API, its WebSocket and the console (see the module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "desk"

    def url_prefix(self) -> Text:
        return "/"  # absolute paths: /desk/...

    # -- helpers -------------------------------------------------------
    @staticmethod
    def _auth(desk: Desk) -> Auth:
        try:
            return desk.auth()
        except SettingsError as error:
            logger.error("desk: %s", error)
            raise ApiError(503, "the desk is not configured on this server (DESK_JWT_SECRET)")

    async def _agent(self, request: Request) -> Agent:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        return await self._auth(Desk.shared()).verify(token)

    @staticmethod
    async def _conversation_for(agent: Agent, conversation_id: str) -> Conversation:
        conversation = await Desk.shared().conversations.require(conversation_id)
        require_access(agent, conversation)
        return conversation

    async def send_agent_message(self, app, agent: Agent, conversation_id: str,
                                 text: Any) -> Dict[str, Any]:
        text = _message_text(text)
        conversation = await self._conversation_for(agent, conversation_id)
        if conversation.status != IN_PROGRESS:
            raise Conflict(f"conversation {conversation.id} is {conversation.status}; "
                           "claim it before writing")
        if conversation.agent != agent.username and not agent.sees_everything:
            raise Forbidden(f"conversation {conversation.id} is assigned to another agent")
        try:
            event = await CustomerLine(app).say(conversation, text, agent=agent.username)
        except Undeliverable as error:
            raise ApiError(409, str(error), "channel") from None
        except (RedisError, OSError, LockError):
            raise
        except Exception as error:  # the channel's API (e.g. Graph API) refused it
            logger.error("desk: message to %s not delivered: %s", conversation.id, error)
            raise ApiError(502, f"the customer's channel did not accept the message: "
                                f"{type(error).__name__}", "channel") from None
        return {"author": "agent", "agent": agent.username, "text": text,
                "timestamp": iso(event.timestamp)}

    async def _transcript(self, app, conversation: Conversation) -> List[Dict[str, Any]]:
        tracker = await app.ctx.agent.tracker_store.retrieve(conversation.sender_id)
        if tracker is None:
            return []
        events = [event.as_dict() for event in tracker.events]
        start = 0
        for index, event in enumerate(events):
            if event.get("event") == "session_started":
                start = index
        return [message_of(event) for event in events[start:]
                if event.get("event") in ("user", "bot")][-TRANSCRIPT_MAX:]

    # -- the blueprint -----------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_desk", __name__)
        api = "/desk/api"

        def endpoint(handler):
            """Map the desk's typed errors, Redis failures and bad input to JSON."""
            async def wrapped(request: Request, *args, **kwargs) -> HTTPResponse:
                try:
                    return await handler(request, *args, **kwargs)
                except ApiError as error:
                    return _error(error.status, error.detail, error.field, error.headers)
                except Unauthorized as error:
                    return error_response(error, headers={"WWW-Authenticate": "Bearer"})
                except DeskError as error:
                    return error_response(error)
                except (RedisError, OSError, LockError) as error:
                    logger.error("desk: Redis unavailable: %s", error)
                    return _error(503, "the desk store (Redis) is not available; retry later")
            wrapped.__name__ = handler.__name__
            return wrapped

        @bp.listener("after_server_start")
        async def positions(app, _loop) -> None:
            start_position_notices(app)

        @bp.route(f"{api}/auth/login", methods=["POST"])
        @endpoint
        async def login(request: Request) -> HTTPResponse:
            data = _body(request, ("username", "password"))
            desk = Desk.shared()
            address = request.remote_addr or request.ip or "unknown"
            session = await self._auth(desk).login(data.get("username"), data.get("password"), address)
            user = {"username": session.agent.username, "name": session.agent.name,
                    "role": session.agent.role}
            return response.json({"token": session.token, "expires_at": iso(session.expires_at),
                                  "user": user})

        @bp.route(f"{api}/auth/logout", methods=["POST"])
        @endpoint
        async def logout(request: Request) -> HTTPResponse:
            agent = await self._agent(request)
            header = request.headers.get("authorization", "")
            await self._auth(Desk.shared()).logout(header[7:].strip())
            logger.info("desk: %s logged out", agent.username)
            return response.empty(status=204)

        @bp.route(f"{api}/me", methods=["GET"])
        @endpoint
        async def me(request: Request) -> HTTPResponse:
            agent = await self._agent(request)
            presence = (await Desk.shared().users.presence()).get(agent.username)
            return response.json({"username": agent.username, "name": agent.name,
                                  "role": agent.role,
                                  "status": presence.status if presence else OFFLINE})

        @bp.route(f"{api}/me/status", methods=["POST"])
        @endpoint
        async def my_status(request: Request) -> HTTPResponse:
            agent = await self._agent(request)
            status = _body(request, ("status",)).get("status")
            if status not in (ONLINE, AWAY, OFFLINE):
                raise InvalidInput("status", "must be online, away or offline")
            users = Desk.shared().users
            if status == OFFLINE:
                await users.set_offline(agent.username)
            else:
                await users.heartbeat(agent.username, status)
            return response.json({"username": agent.username, "status": status})

        @bp.route(f"{api}/conversations", methods=["GET"])
        @endpoint
        async def list_conversations(request: Request) -> HTTPResponse:
            agent = await self._agent(request)
            status = request.args.get("status") or None
            if status is not None and status not in STATUSES:
                raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
            items = await Desk.shared().conversations.list(
                status=status, channel=request.args.get("channel") or None,
                agent=request.args.get("agent") or None,
                since=_time_arg(request, "since"), until=_time_arg(request, "until"), limit=500)
            visible = [conversation_view(c) for c in items if can_access(agent, c)]
            return response.json({"conversations": visible})

        @bp.route(f"{api}/conversations/<conversation_id>", methods=["GET"])
        @endpoint
        async def get_conversation(request: Request, conversation_id: str) -> HTTPResponse:
            agent = await self._agent(request)
            conversation = await self._conversation_for(agent, conversation_id)
            position = await Desk.shared().conversations.position(conversation.id)
            return response.json({
                "conversation": conversation_view(conversation, position),
                "transcript": await self._transcript(request.app, conversation),
            })

        @bp.route(f"{api}/conversations/<conversation_id>/claim", methods=["POST"])
        @endpoint
        async def claim(request: Request, conversation_id: str) -> HTTPResponse:
            agent = await self._agent(request)
            conversation = await Desk.shared().conversations.claim(conversation_id, agent)
            return response.json({"conversation": conversation_view(conversation)})

        @bp.route(f"{api}/conversations/<conversation_id>/messages", methods=["POST"])
        @endpoint
        async def post_message(request: Request, conversation_id: str) -> HTTPResponse:
            agent = await self._agent(request)
            data = _body(request, ("text",))
            message = await self.send_agent_message(request.app, agent, conversation_id,
                                                    data.get("text"))
            return response.json({"message": message}, status=201)

        @bp.route(f"{api}/conversations/<conversation_id>/transfer", methods=["POST"])
        @endpoint
        async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
            agent = await self._agent(request)
            data = _body(request, ("to", "reason"))
            if not isinstance(data.get("to"), str) or not data["to"].strip():
                raise InvalidInput("to", "the username of the agent to transfer to")
            conversation = await Desk.shared().conversations.transfer(
                conversation_id, agent, data["to"].strip().lower(), data.get("reason"))
            return response.json({"conversation": conversation_view(conversation)})

        @bp.route(f"{api}/conversations/<conversation_id>/close", methods=["POST"])
        @endpoint
        async def close(request: Request, conversation_id: str) -> HTTPResponse:
            agent = await self._agent(request)
            data = _body(request, ("resolution", "notes", "resolved"))
            resolved = data.get("resolved", True)
            if not isinstance(resolved, bool):
                raise InvalidInput("resolved", "must be true or false")
            closed = await Desk.shared().conversations.close(
                conversation_id, agent, data.get("resolution"), data.get("notes") or "", resolved)
            await CustomerLine(request.app).resume(closed, texts.CLOSED_BY_AGENT_TEXT,
                                                   ask_csat=closed.claimed_at is not None)
            return response.json({"conversation": conversation_view(closed)})

        @bp.route(f"{api}/queue", methods=["GET"])
        @endpoint
        async def queue(request: Request) -> HTTPResponse:
            await self._agent(request)
            now = time.time()
            waiting = await Desk.shared().conversations.queue(limit=1000)
            return response.json({"queue": [conversation_view(c, index + 1, now)
                                            for index, c in enumerate(waiting)]})

        @bp.route(f"{api}/metrics", methods=["GET"])
        @endpoint
        async def metrics(request: Request) -> HTTPResponse:
            if not (await self._agent(request)).sees_everything:
                raise Forbidden("the desk metrics are for supervisors and admins")
            desk = Desk.shared()
            return response.json((await desk_metrics(desk.users, desk.conversations)).as_dict())

        @bp.route(f"{api}/agents", methods=["GET"])
        @endpoint
        async def agents(request: Request) -> HTTPResponse:
            # Supervisors and admins: the dashboard (role, load). An atendente
            # only gets whom to transfer to (the console's transfer picker).
            shown = (("username", "name", "role", "status", "active_conversations")
                     if (await self._agent(request)).sees_everything else ("username", "name", "status"))
            desk = Desk.shared()
            statuses = await agents_status(desk.users, desk.conversations)
            return response.json({"agents": [
                {key: status.as_dict()[key] for key in shown} for status in statuses]})

        async def admin(request: Request) -> Agent:
            agent = await self._agent(request)
            if agent.role != ADMIN:
                raise Forbidden("only admins manage users")
            return agent

        def user_view(user: Agent) -> Dict[str, Any]:
            return {"username": user.username, "name": user.name, "role": user.role,
                    "disabled": user.disabled}

        @bp.route(f"{api}/users", methods=["GET"])
        @endpoint
        async def list_users(request: Request) -> HTTPResponse:
            await admin(request)
            return response.json({"users": [user_view(u) for u in await Desk.shared().users.list()]})

        @bp.route(f"{api}/users", methods=["POST"])
        @endpoint
        async def create_user(request: Request) -> HTTPResponse:
            await admin(request)
            data = _body(request, ("username", "name", "role", "password"))
            user = await Desk.shared().users.create(data.get("username"), data.get("name"),
                                                    data.get("role"), data.get("password"))
            return response.json({"user": user_view(user)}, status=201)

        @bp.route(f"{api}/users/<username>", methods=["PATCH"])
        @endpoint
        async def update_user(request: Request, username: str) -> HTTPResponse:
            await admin(request)
            data = _body(request, ("name", "role", "password", "disabled"))
            users = Desk.shared().users
            await users.require(username)
            if "disabled" in data and not isinstance(data["disabled"], bool):
                raise InvalidInput("disabled", "must be true or false")
            user = await users.update(username, data.get("name"), data.get("role"))
            if data.get("password") is not None:
                user = await users.set_password(username, data["password"])
            if "disabled" in data:
                user = await users.set_disabled(username, data["disabled"])
            return response.json({"user": user_view(user)})

        @bp.route("/desk/", methods=["GET"])
        async def console(_: Request) -> HTTPResponse:
            return await self._static("index.html")

        @bp.route("/desk/static/<name:path>", methods=["GET"])
        async def static(_: Request, name: str) -> HTTPResponse:
            return await self._static(name)

        @bp.websocket("/desk/ws")
        async def desk_ws(request: Request, ws: Any) -> None:
            await DeskSocket(self, request, ws).serve()

        return bp

    @staticmethod
    async def _static(name: str) -> HTTPResponse:
        path = (CONSOLE_DIR / name).resolve()
        if CONSOLE_DIR.resolve() not in path.parents or not path.is_file():
            return _error(404, f"{name}: no such file in the console", "path")
        return await response.file(path, headers={"Cache-Control": "no-cache"})


class DeskSocket:
    """One agent's ``/desk/ws`` connection: auth, events out, frames in."""

    def __init__(self, channel: DeskInput, request: Request, ws: Any):
        self.channel, self.request, self.ws = channel, request, ws
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
            self.agent = await self.channel._auth(desk).verify(token)
            return True
        except (Unauthorized, ApiError, ValueError, asyncio.TimeoutError) as error:
            await self.ws.close(1008, f"unauthorized: {error}"[:120])
            return False

    async def serve(self) -> None:
        try:
            if not await self.authenticate():
                return
        except (ConnectionClosed, WebsocketClosed):
            return
        except (RedisError, OSError):
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
        except (RedisError, OSError, TimeoutError) as error:
            logger.error("desk ws: Redis unavailable: %s", error)
            await self.ws.close(1011, "desk store unavailable, retry later")
        finally:
            for task in tasks:
                task.cancel()

    async def forward(self, stream) -> None:
        try:
            async for event in stream:
                if event.visible_to(self.agent.username, self.agent.sees_everything):
                    await self.send(event.type, event.data)
        except (ConnectionClosed, WebsocketClosed, asyncio.CancelledError):
            pass
        except Exception as error:
            logger.error("desk ws: forwarding to %s stopped: %s", self.agent.username, error)
            await self.ws.close(1011, "desk events unavailable, reconnect")

    async def presence(self) -> None:
        """An open console counts as presence: keep the agent's status fresh."""
        users = Desk.shared().users
        while True:
            try:
                current = (await users.presence()).get(self.agent.username)
                status = current.status if current and current.status != OFFLINE else ONLINE
                await users.heartbeat(self.agent.username, status)
            except (RedisError, OSError) as error:
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
            except ValueError:  # MalformedJson and TooLarge are ValueErrors
                await self.error("invalid_frame", "frame: JSON object {type, data}")
                continue
            try:
                await self.handle(incoming["type"], incoming.get("data") or {})
            except ApiError as error:
                await self.error("rejected", error.detail)
            except DeskError as error:
                await self.error(type(error).__name__.lower(), error.message)
            except (RedisError, OSError):
                await self.error("unavailable", "the desk store (Redis) is not available")

    async def handle(self, kind: str, data: Dict[str, Any]) -> None:
        if kind == "ping":
            await self.send("pong", {})
            return
        if not isinstance(data, dict):
            raise InvalidInput("data", "must be an object")
        conversation_id = data.get("conversation_id")
        if kind not in ("join_conversation", "leave_conversation", "send_message",
                        "typing_start", "typing_stop"):
            raise InvalidInput("type", f"unknown frame type {kind[:40]!r}")
        if not isinstance(conversation_id, str) or not conversation_id:
            raise InvalidInput("conversation_id", "is required")
        if kind == "leave_conversation":
            self.joined.discard(conversation_id)
            return
        conversation = await self.channel._conversation_for(self.agent, conversation_id)
        if kind == "join_conversation":
            self.joined.add(conversation_id)
        elif kind == "send_message":
            await self.channel.send_agent_message(self.request.app, self.agent, conversation_id,
                                                  data.get("text"))
        else:
            typing = kind == "typing_start"
            await Desk.shared().events.publish("agent_typing", conversation,
                                               conversation_id=conversation_id,
                                               agent=self.agent.username, typing=typing)
            try:
                await CustomerLine(self.request.app).typing(conversation, typing)
            except Exception as error:  # typing is cosmetic
                logger.debug("desk: typing to %s not shown: %s", conversation_id, error)
