"""socket.io input channel for the rasa-webchat widget (``channels.socketio.SocketIOInput``).

Speaks Rasa's socket.io protocol, so the unmodified ``rasa-webchat`` widget
works: ``session_request`` -> ``session_confirm`` (the session id),
``user_uttered`` -> ``bot_uttered`` (text, ``quick_replies`` for buttons,
``attachment`` for images, custom payloads as they are), plus a ``typing``
event (``{"typing": true}`` / ``false``) around each turn and an ``error``
event (``{"code", "field", "detail"}``) for a request we cannot use. A custom
widget may send ``user_typing`` (``{"typing": bool}``), shown to the atendente
who has the conversation (rasa-webchat sends none), and an ``attachment``
(``{url}`` or ``{data: base64}`` within the 64 KB frame, + ``filename``;
``message`` is then its optional caption) taken like a WhatsApp file.
rasa-webchat itself sends only text, button payloads and ``customData``.

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
  python-socketio's ``AsyncRedisManager`` (channel ``<prefix>:socketio``,
  ``outbound.py``), so any replica, and ``get_output_channel()`` with
  nothing but the sender id (the atendentes' desk), reaches the customer.

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
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from redis.exceptions import RedisError
from sanic import Blueprint
from socketio import AsyncServer
from socketio.exceptions import ConnectionRefusedError

from bot import chat_input, errors, metrics
from bot.desk import Desk
from bot.desk.typing import TypingReports, report_customer_typing
from bot.media.attachments import parse_attachment
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis
from bot.security import InvalidToken, session_from_token
from channels.common.attachment import understand_attachment
from channels.common.http import as_handler
from channels.common.settings import chat_settings
from channels.common.turn import ServiceUnavailable, run_turn
from channels.socketio.outbound import REDIS_PUBLISH_CONNECTIONS, publisher, redis_manager, room_of
from channels.socketio.output import SocketIOOutput
from channels.socketio.server import QuietAsyncServer
from channels.socketio.widget import WEBCHAT_JS, WidgetPage

USER_TYPING_EVENT = "user_typing"

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = chat_input.MAX_MESSAGE_CHARS
# A user_uttered frame carries at most a 4 KB text and the widget's metadata.
MAX_FRAME_BYTES = chat_input.MAX_BODY_BYTES


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


class SocketIOInput(InputChannel):
    """socket.io input channel for rasa-webchat, with the demo page at ``/widget``."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        settings = chat_settings().socketio
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            typing_evt=credentials.get("typing_evt", "typing"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "customData"),
            jwt_secret=credentials.get("jwt_secret") or settings.jwt_secret,
            use_redis=settings.use_redis,
            rate_limit_per_minute=settings.rate_limit_per_minute,
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
        self._redis_gate: Optional[asyncio.Semaphore] = None

    def url_prefix(self) -> Text:
        # Rasa mounts at urljoin("/webhooks/", url_prefix()): "/" keeps /widget absolute.
        return "/"

    def output(self, emitter: Any) -> SocketIOOutput:
        return SocketIOOutput(emitter, self.bot_message_evt, self.namespace, self.typing_evt)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Delivers to a session by sender id, from any replica (emits go through Redis)."""
        if self.sio is not None:
            return self.output(self.sio)
        if self.use_redis:
            return self.output(publisher())
        logger.warning("socketio: no server in this process and SOCKETIO_REDIS is off")
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        widget = chat_settings().widget  # a bad WIDGET_* setting stops start-up here
        if not WEBCHAT_JS.is_file():
            logger.warning("socketio: %s is missing; run `make setup` (npm ci in web/widget/)", WEBCHAT_JS)
        sio = QuietAsyncServer(
            async_mode="sanic",
            # Origins are Sanic's business (rasa run --cors / RASA_CORS), as in stock Rasa.
            cors_allowed_origins=[],
            client_manager=redis_manager() if self.use_redis else None,
            max_http_buffer_size=MAX_FRAME_BYTES,
        )
        self.sio = sio
        blueprint = SocketBlueprint(sio, self.socketio_path, "isp_socketio", __name__)
        events = SessionEvents(self, sio, on_new_message)
        blueprint.listener("before_server_start")(as_handler(events.keep_app))
        events.register()
        WidgetPage(widget, self.socketio_path, self.typing_evt).register(blueprint)
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
        """``(text, session_id or None, metadata, attachment or None)`` of a ``user_uttered`` frame."""
        if not isinstance(data, dict):
            raise BadRequest(self.user_message_evt, "expected an object {message, session_id}")
        try:
            attachment = parse_attachment(data.get("attachment"))
        except errors.AppError as error:
            raise BadRequest(error.field or "attachment", error.message, _code(error)) from None
        text = data.get("message")
        if attachment is not None and text in (None, ""):
            text = ""  # a file without a caption
        elif not isinstance(text, str) or not text.strip():
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
            raise BadRequest(error.field or self.metadata_key, error.detail) from None
        return chat_input.clean_text(text), data.get("session_id") or None, metadata, attachment


def _code(error: errors.AppError) -> str:
    """The ``error`` event's code for a refused attachment."""
    return {"body": "too_large", "media_type": "unsupported_media_type",
            "unavailable": "unavailable"}.get(error.kind, "invalid_request")



class SessionEvents:
    """The socket.io event handlers of one server: sessions, rooms, customer turns."""

    def __init__(self, channel: SocketIOInput, sio: AsyncServer,
                 on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        self.channel = channel
        self.sio = sio
        self.ns = channel.namespace
        self.on_new_message = on_new_message
        self.app: Any = None
        self.typing: Dict[Text, TypingReports] = {}  # per socket

    def register(self) -> None:
        self.sio.on("connect", namespace=self.ns)(self.connect)
        self.sio.on("disconnect", namespace=self.ns)(self.disconnect)
        self.sio.on("session_request", namespace=self.ns)(self.session_request)
        self.sio.on(self.channel.user_message_evt, namespace=self.ns)(self.user_uttered)
        self.sio.on(USER_TYPING_EVENT, namespace=self.ns)(self.user_typing)

    async def keep_app(self, app: Any, _: Any) -> None:
        self.app = app  # run_turn needs the agent; socket.io events carry no request

    async def emit_error(self, sid: Text, error: BadRequest) -> None:
        logger.info("socketio: %s refused: %s (%s)", sid, error.code, error.field)
        await self.sio.emit("error", error.payload(), to=sid, namespace=self.ns)

    async def bind(self, sid: Text, requested: Any) -> Text:
        """Put the socket in the room of ``requested`` (or its token's, or a new session)."""
        sio, ns = self.sio, self.ns
        state = await sio.get_session(sid, namespace=ns)
        bound = state.get("bound")
        if requested in (None, ""):
            session_id = state.get("session_id") or bound or uuid.uuid4().hex
        elif not isinstance(requested, str) or not chat_input.SESSION_ID.match(requested):
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

    async def connect(self, sid: Text, environ: Dict, auth: Optional[Dict] = None) -> None:
        bound = None
        if self.channel.jwt_secret:
            try:
                bound = session_from_token(_token(auth, environ), self.channel.jwt_secret)
            except InvalidToken as error:
                logger.info("socketio: refused a connection: invalid token (%s)", error)
                raise ConnectionRefusedError(f"invalid token: {error}", {"field": "token"})
        await self.sio.save_session(sid, {"bound": bound, "session_id": None}, namespace=self.ns)
        metrics.CONNECTIONS.labels(channel=self.channel.name()).inc()
        logger.debug("socketio: %s connected", sid)

    async def disconnect(self, sid: Text, *_: Any) -> None:
        self.typing.pop(sid, None)
        metrics.CONNECTIONS.labels(channel=self.channel.name()).dec()
        logger.debug("socketio: %s disconnected", sid)

    async def session_request(self, sid: Text, data: Any = None) -> None:
        try:
            if data is not None and not isinstance(data, dict):
                raise BadRequest("session_request", "session_request takes {session_id}")
            session_id = await self.bind(sid, (data or {}).get("session_id"))
        except BadRequest as error:
            await self.emit_error(sid, error)
            return
        await self.sio.emit("session_confirm", session_id, to=sid, namespace=self.ns)

    async def user_typing(self, sid: Text, data: Any = None) -> None:
        """``user_typing {typing: bool}`` from a custom widget (rasa-webchat sends none):
        shown to the atendente who has the conversation."""
        active = data.get("typing") if isinstance(data, dict) else None
        state = await self.sio.get_session(sid, namespace=self.ns)
        if not isinstance(active, bool) or not state.get("session_id"):
            await self.emit_error(sid, BadRequest("typing", "user_typing takes {typing: true|false} "
                                                            "after session_request"))
            return
        if self.typing.setdefault(sid, TypingReports()).worth_sending(active):
            try:
                await report_customer_typing(Desk.shared(), room_of(state["session_id"]), active)
            except (RedisError, OSError) as error:  # cosmetic: the chat goes on
                logger.warning("socketio: typing not shown: %s", type(error).__name__)

    async def user_uttered(self, sid: Text, data: Any = None) -> None:
        channel, sio, ns = self.channel, self.sio, self.ns
        try:
            text, requested, metadata, attachment = channel._parse_message(data)
            state = await sio.get_session(sid, namespace=ns)
            if requested is None and not state.get("session_id") and not state.get("bound"):
                raise BadRequest("session_id", "send session_request first")
            session_id = await self.bind(sid, requested)
            await channel._check_rate(room_of(session_id))
        except BadRequest as error:
            await self.emit_error(sid, error)
            return
        room = room_of(session_id)
        output = channel.output(sio)
        await sio.emit(channel.typing_evt, {"typing": True}, room=room, namespace=ns)
        try:
            if attachment is not None:  # its words, intent or label, and what the bot saw; or a reply
                try:
                    understood = await understand_attachment(self.app.ctx.agent, room, attachment, text)
                except errors.AppError as error:
                    await self.emit_error(sid, BadRequest(error.field or "attachment", error.message, _code(error)))
                    return
                if understood.reply:
                    await output.send_text_message(room, understood.reply)
                    return
                text, metadata = understood.text, {**metadata, **understood.metadata}
            message = UserMessage(text, output, room, input_channel=channel.name(), metadata=metadata)
            await run_turn(self.app, self.on_new_message, message, channel.name())
        except ServiceUnavailable as error:
            await self.emit_error(sid, BadRequest("message", f"{error}; retry later", "unavailable"))
        except Exception:  # guards a customer's turn: logged with its stack, counted
            logger.exception("socketio: turn of %s failed", room)
            metrics.record_unexpected("socketio.turn")
            await self.emit_error(sid, BadRequest("message", "internal error", "internal"))
        finally:
            await sio.emit(channel.typing_evt, {"typing": False}, room=room, namespace=ns)


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
