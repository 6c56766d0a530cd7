"""socket.io connector for the rasa-webchat widget (``channels.socketio.SocketIOInput``).

Speaks Rasa's socket.io protocol, so the unmodified ``rasa-webchat`` widget
works: ``session_request`` -> ``session_confirm`` (the session id),
``user_uttered`` -> ``bot_uttered`` (text, ``quick_replies`` for buttons,
``attachment`` for images, custom payloads as they are), plus a ``typing``
event (``{"typing": true}`` / ``false``) around each turn and an ``error``
event (``{"code", "field", "detail"}``) for a request we cannot use.

It fixes what stock Rasa's ``socketio`` channel gets wrong with the
python-socketio we run (5.18):

- ``enter_room`` is a coroutine there and stock Rasa does not await it, so
  with session persistence replies reached nobody. Here every socket joins
  the room of its session (``web:<session_id>``, also the Rasa sender id),
  awaited, and every reply is emitted to that room: all tabs of a session see
  it, and reconnecting with the same session id continues the conversation.
- ``send_custom_json`` spread the payload into ``emit()`` keyword arguments
  and lost it; here the custom payload is the event data, intact.
- replies only reached sockets of the same process; here emits go through
  python-socketio's ``AsyncRedisManager`` (channel ``<prefix>:socketio``), so
  any replica, and ``get_output_channel()`` with nothing but the sender id
  (the atendentes' desk), reaches the customer.

Each message counts against the session's ``CHAT_RATE_LIMIT_PER_MINUTE``
(shared with the REST API and WebSocket) and runs through
``channels.common.turn.run_turn`` (metrics; Redis or lock failures become an
``unavailable`` error, never silence).

With ``SOCKETIO_JWT_SECRET`` set a connection must present a token (socket.io
``auth: {token}``, ``?token=`` or ``Authorization: Bearer``) and may only use
the session id bound in it (``bot.security.session_from_token``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from redis import asyncio as aioredis
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer, packet
from socketio.exceptions import ConnectionRefusedError

from bot import chat_input, metrics
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis, redis_key
from bot.security import InvalidToken, session_from_token
from bot.settings import Settings, SettingsError
from channels.common.turn import ServiceUnavailable, run_turn
from channels.widget import WEBCHAT_JS, WidgetSettings, render_page

logger = logging.getLogger(__name__)

SENDER_PREFIX = "web:"
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_MESSAGE_CHARS = 4096
# A user_uttered frame carries at most a 4 KB text and the widget's metadata.
MAX_FRAME_BYTES = 64 * 1024
# Redis connections for publishing emits (plus one for listening), per process.
REDIS_PUBLISH_CONNECTIONS = 16


def room_of(recipient_id: Text) -> Text:
    """The room (and Rasa sender id) of a session: ``web:<session_id>``.

    Accepts the sender id (what Rasa and the desk pass) or a bare session id.
    """
    return recipient_id if recipient_id.startswith(SENDER_PREFIX) else SENDER_PREFIX + recipient_id


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


class BoundedRedisManager(AsyncRedisManager):
    """``AsyncRedisManager`` whose emits share a few Redis connections.

    Upstream's pool opens one connection per concurrent emit: 5,000 widgets
    answered at once opened 4,000+ connections, whose connect timed out while
    the event loop was busy with the turns, and the replies were lost
    ("Cannot publish to redis... giving up"). Here an emit waits, without a
    deadline, for one of a few connections; a dead Redis still fails fast at
    connect (``socket_connect_timeout``).
    """

    def _redis_connect(self) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=REDIS_PUBLISH_CONNECTIONS + 1, timeout=None,
            **self.redis_options,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


# Names socket.io uses itself: sent by a client as events, they reached our connect handler.
RESERVED_EVENTS = ("connect", "disconnect", "connect_error")


def malformed_packet(packet_class: Any, data: str) -> Optional[str]:
    """Why a client's socket.io text packet cannot be dispatched, or None if it can."""
    try:
        pkt = packet_class(encoded_packet=data)
    except Exception as error:  # bad JSON, too deep, unknown type: the decoder's own errors
        return f"not a socket.io packet ({type(error).__name__})"
    if pkt.packet_type in (packet.EVENT, packet.BINARY_EVENT):
        if not isinstance(pkt.data, list) or not 1 <= len(pkt.data) <= 2 or not isinstance(pkt.data[0], str):
            return "an event must be [name] or [name, payload] with a string name"
        if pkt.data[0] in RESERVED_EVENTS:
            return f"event name {pkt.data[0]!r} is reserved"
    elif pkt.packet_type not in (packet.CONNECT, packet.DISCONNECT, packet.ACK, packet.BINARY_ACK):
        return f"packet type {pkt.packet_type} is not sent by clients"
    return None


class QuietAsyncServer(AsyncServer):
    """``AsyncServer`` that drops a malformed client packet with one log line.

    python-socketio raises on them (``42``, ``42[``, ``42[[1]]``) and
    Engine.IO logs the traceback: noise anyone could pour into our logs. The
    connection stays open either way. (Hooks ``_handle_eio_message``; the
    version is pinned in requirements.lock.)
    """

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if eio_sid not in self._binary_packet:
            problem = (malformed_packet(self.packet_class, data) if isinstance(data, str)
                       else "binary data without a binary packet before it")
            if problem:
                logger.warning("socketio: malformed packet dropped: %s", problem)
                return
        await super()._handle_eio_message(eio_sid, data)


class BadRequest(ValueError):
    """A socket.io event we cannot use; ``field`` names what is wrong."""

    def __init__(self, field: str, detail: str, code: str = "invalid_request", **extra: Any):
        super().__init__(detail)
        self.field = field
        self.detail = detail
        self.code = code
        self.extra = extra

    def payload(self) -> Dict[Text, Any]:
        return {"code": self.code, "field": self.field, "detail": self.detail, **self.extra}


class SocketIOOutput(OutputChannel):
    """Emits ``bot_uttered`` to the session's room, in the shapes rasa-webchat renders.

    ``emitter`` is the ``AsyncServer`` or, in a process without one, a
    write-only ``AsyncRedisManager``: both have ``emit(event, data, room=...)``.
    """

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, emitter: Any, bot_message_evt: Text, namespace: Optional[Text] = None,
                 typing_evt: Text = "typing"):
        self.emitter = emitter
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.typing_evt = typing_evt

    async def send_typing(self, recipient_id: Text, active: bool) -> None:
        """The typing indicator (e.g. an atendente typing on the desk)."""
        await self.emitter.emit(self.typing_evt, {"typing": bool(active)},
                                room=room_of(recipient_id), namespace=self.namespace)

    async def _send_message(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.emitter.emit(
            self.bot_message_evt, message, room=room_of(recipient_id), namespace=self.namespace
        )
        metrics.record_bot_message(self.name())

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        # One bubble per paragraph, as stock Rasa and rasa-webchat expect.
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send_message(
            recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}}
        )

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        # rasa-webchat renders buttons only on a message of exactly {text, quick_replies}.
        parts = text.strip().split("\n\n") if text and text.strip() else [""]
        for part in parts[:-1]:
            await self._send_message(recipient_id, {"text": part})
        quick_replies = [
            {"content_type": "text", "title": button.get("title", ""), "payload": button.get("payload", "")}
            for button in buttons
        ]
        await self._send_message(recipient_id, {"text": parts[-1], "quick_replies": quick_replies})

    async def send_elements(
        self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        for element in elements:
            await self._send_message(
                recipient_id,
                {"attachment": {"type": "template",
                                "payload": {"template_type": "generic", "elements": element}}},
            )

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: Text, attachment: Dict[Text, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"attachment": attachment})

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        # Intact: what the bot designer wrote under `custom` is what the widget gets.
        await self._send_message(recipient_id, dict(json_message))


class SocketIOInput(InputChannel):
    """socket.io input channel for rasa-webchat, with the demo page at ``/widget``."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            typing_evt=credentials.get("typing_evt", "typing"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "customData"),
            jwt_secret=credentials.get("jwt_secret") or os.environ.get("SOCKETIO_JWT_SECRET", ""),
            use_redis=_flag("SOCKETIO_REDIS", True),
            rate_limit_per_minute=int(os.environ.get("CHAT_RATE_LIMIT_PER_MINUTE", "30") or 30),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        typing_evt: Text = "typing",
        namespace: Optional[Text] = None,
        socketio_path: Text = "/socket.io",
        metadata_key: Text = "customData",
        jwt_secret: Text = "",
        use_redis: bool = True,
        rate_limit_per_minute: int = 30,
    ) -> None:
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.typing_evt = typing_evt
        self.namespace = namespace
        self.socketio_path = socketio_path
        self.metadata_key = metadata_key
        self.jwt_secret = jwt_secret
        self.use_redis = use_redis
        self.rate_limit_per_minute = rate_limit_per_minute
        self.sio: Optional[AsyncServer] = None
        self._write_only: Optional[AsyncRedisManager] = None
        self._redis_gate: Optional[asyncio.Semaphore] = None

    def url_prefix(self) -> Text:
        # Rasa mounts at urljoin("/webhooks/", url_prefix()): "/" keeps /widget absolute.
        return "/"

    def _redis_manager(self, write_only: bool = False) -> Optional[AsyncRedisManager]:
        if not self.use_redis:
            return None
        return BoundedRedisManager(
            Settings.from_env().redis.url,
            channel=redis_key("socketio"),
            write_only=write_only,
            redis_options={"socket_connect_timeout": 2, "health_check_interval": 30},
        )

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Delivers to a session by sender id, from any replica (emits go through Redis)."""
        if self.sio is not None:
            return SocketIOOutput(self.sio, self.bot_message_evt, self.namespace, self.typing_evt)
        if self.use_redis:
            self._write_only = self._write_only or self._redis_manager(write_only=True)
            return SocketIOOutput(self._write_only, self.bot_message_evt, self.namespace,
                                  self.typing_evt)
        logger.warning("socketio: no server in this process and SOCKETIO_REDIS is off")
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget = WidgetSettings.from_env()  # a bad WIDGET_* setting stops start-up here
        if not WEBCHAT_JS.is_file():
            logger.warning("socketio: %s is missing; run `make setup` (npm ci in web/)", WEBCHAT_JS)
        sio = QuietAsyncServer(
            async_mode="sanic",
            # Origins are Sanic's business (rasa run --cors / RASA_CORS), as in stock Rasa.
            cors_allowed_origins=[],
            client_manager=self._redis_manager(),
            max_http_buffer_size=MAX_FRAME_BYTES,
        )
        self.sio = sio
        ns = self.namespace
        blueprint = SocketBlueprint(sio, self.socketio_path, "isp_socketio", __name__)
        server: Dict[Text, Any] = {}

        @blueprint.listener("before_server_start")
        async def keep_app(app: Any, _: Any) -> None:
            server["app"] = app  # run_turn needs the agent; socket.io events carry no request

        @blueprint.route("/widget", methods=["GET"])
        async def widget_page(_: Request) -> HTTPResponse:
            page = render_page(widget, "/widget/webchat.js", self.socketio_path, self.typing_evt)
            return response.html(page)

        @blueprint.route("/widget/webchat.js", methods=["GET"])
        async def webchat_js(_: Request) -> HTTPResponse:
            if not WEBCHAT_JS.is_file():
                return response.json(
                    {"detail": "rasa-webchat is not installed on this server: run `make setup`"},
                    status=503,
                )
            return await response.file(
                WEBCHAT_JS,
                mime_type="application/javascript",
                headers={"Cache-Control": "public, max-age=3600"},
            )

        async def emit_error(sid: Text, error: BadRequest) -> None:
            logger.info("socketio: %s refused: %s (%s)", sid, error.code, error.field)
            await sio.emit("error", error.payload(), to=sid, namespace=ns)

        async def bind(sid: Text, requested: Any) -> Text:
            """Put the socket in the room of ``requested`` (or its token's, or a new session)."""
            state = await sio.get_session(sid, namespace=ns)
            bound = state.get("bound")
            if requested in (None, ""):
                session_id = state.get("session_id") or bound or uuid.uuid4().hex
            elif not isinstance(requested, str) or not SESSION_ID.match(requested):
                raise BadRequest(
                    "session_id", "session_id must be 1 to 128 letters, digits or . _ : -"
                )
            else:
                session_id = requested
            if bound and session_id != bound:
                raise BadRequest("session_id", "the token is for another session", "forbidden")
            current = state.get("session_id")
            if current != session_id:
                if current:
                    await sio.leave_room(sid, room_of(current), namespace=ns)
                await sio.enter_room(sid, room_of(session_id), namespace=ns)
                state["session_id"] = session_id
                await sio.save_session(sid, state, namespace=ns)
            return session_id

        @sio.on("connect", namespace=ns)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> None:
            bound = None
            if self.jwt_secret:
                try:
                    bound = session_from_token(_token(auth, environ), self.jwt_secret)
                except InvalidToken as error:
                    logger.info("socketio: refused a connection: invalid token (%s)", error)
                    raise ConnectionRefusedError(f"invalid token: {error}", {"field": "token"})
            await sio.save_session(sid, {"bound": bound, "session_id": None}, namespace=ns)
            metrics.CONNECTIONS.labels(channel=self.name()).inc()
            logger.debug("socketio: %s connected", sid)

        @sio.on("disconnect", namespace=ns)
        async def disconnect(sid: Text, *_: Any) -> None:
            metrics.CONNECTIONS.labels(channel=self.name()).dec()
            logger.debug("socketio: %s disconnected", sid)

        @sio.on("session_request", namespace=ns)
        async def session_request(sid: Text, data: Any = None) -> None:
            try:
                if data is not None and not isinstance(data, dict):
                    raise BadRequest("session_request", "session_request takes {session_id}")
                session_id = await bind(sid, (data or {}).get("session_id"))
            except BadRequest as error:
                await emit_error(sid, error)
                return
            await sio.emit("session_confirm", session_id, to=sid, namespace=ns)

        @sio.on(self.user_message_evt, namespace=ns)
        async def user_uttered(sid: Text, data: Any = None) -> None:
            try:
                text, requested, metadata = self._parse_message(data)
                state = await sio.get_session(sid, namespace=ns)
                if requested is None and not state.get("session_id") and not state.get("bound"):
                    raise BadRequest("session_id", "send session_request first")
                session_id = await bind(sid, requested)
                await self._check_rate(room_of(session_id))
            except BadRequest as error:
                await emit_error(sid, error)
                return
            room = room_of(session_id)
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt, ns),
                room,
                input_channel=self.name(),
                metadata=metadata,
            )
            await sio.emit(self.typing_evt, {"typing": True}, room=room, namespace=ns)
            try:
                await run_turn(server["app"], on_new_message, message, self.name())
            except ServiceUnavailable as error:
                await emit_error(sid, BadRequest("message", f"{error}; retry later", "unavailable"))
            except Exception:
                logger.exception("socketio: turn of %s failed", room)
                await emit_error(sid, BadRequest("message", "internal error", "internal"))
            finally:
                await sio.emit(self.typing_evt, {"typing": False}, room=room, namespace=ns)

        return blueprint

    async def _check_rate(self, sender_id: Text) -> None:
        """CHAT_RATE_LIMIT_PER_MINUTE per session, shared with the REST API and WebSocket."""
        # A few checks at a time: the shared client's pool opens a connection per
        # concurrent call, and 5,000 messages at once made 3,000+ time out (false 503s).
        self._redis_gate = self._redis_gate or asyncio.Semaphore(REDIS_PUBLISH_CONNECTIONS)
        try:
            async with self._redis_gate:
                wait = await RateLimiter(get_redis(), self.rate_limit_per_minute, "chat").hit(sender_id)
        except (RedisError, OSError):
            raise BadRequest("message", "the conversation store (Redis) does not answer; retry later",
                             "unavailable") from None
        if wait is not None:
            metrics.record_error(self.name(), "rate_limited")
            raise BadRequest("message", f"too many messages; retry in {wait}s", "rate_limited",
                             retry_after=wait)

    def _parse_message(self, data: Any) -> tuple:
        """``(text, session_id or None, metadata)`` of a ``user_uttered`` frame."""
        if not isinstance(data, dict):
            raise BadRequest(self.user_message_evt, "expected an object {message, session_id}")
        text = data.get("message")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("message", "message must be a non-empty string")
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadRequest("message", f"message is longer than {MAX_MESSAGE_CHARS} characters")
        metadata = data.get(self.metadata_key)
        if isinstance(metadata, str):
            try:
                metadata = chat_input.parse_json(metadata, field=self.metadata_key)
            except chat_input.TooDeep as error:
                raise BadRequest(self.metadata_key, str(error)) from None
            except ValueError:  # MalformedJson, TooLarge
                raise BadRequest(self.metadata_key, f"{self.metadata_key} is not valid JSON") from None
        try:
            metadata = chat_input.metadata(metadata, self.metadata_key) or {}
        except chat_input.InvalidInput as error:
            raise BadRequest(self.metadata_key, error.detail) from None
        return chat_input.clean_text(text), data.get("session_id") or None, metadata


def _token(auth: Any, environ: Dict) -> Optional[str]:
    """The widget token: socket.io ``auth: {token}``, ``?token=`` or a bearer header."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return auth["token"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token"):
        return query["token"][0]
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None
