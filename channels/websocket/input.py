"""Plain WebSocket chat at ``/ws/chat/<session_id>`` (sender id ``web:<session_id>``).

Loaded from ``credentials.yml`` as ``channels.websocket.WebSocketInput:``;
``url_prefix()`` is ``/`` so the path is absolute. Every frame is JSON
``{type, data, timestamp, id}``:

- client: ``chat`` (``data.message``, ``data.metadata``?, ``data.attachment``?:
  ``{url}`` or ``{data: base64}`` within the frame, + ``filename``; the
  message is then the optional caption), ``typing``
  (``data.active``: shown to the atendente who has the conversation), ``ping``;
- server: ``connection`` on open, ``chat`` (one bot message: ``text``,
  ``buttons``, ``image``, ``custom``), ``typing`` (``data.active``) while a
  turn runs, ``pong``, ``error`` (``data.code``, ``data.message``).

A bad frame gets an ``error`` frame and the connection stays up; a frame over
64 KB closes it with 1009, an invalid token with 1008, a full process with
1013, a lost Redis with 1011. A ``chat`` frame's ``id`` is its idempotency
key (``channels/common/idempotency.py``): the same id again gets the first
answer's ``chat`` frames, no second turn. Messages for the customer sent outside a turn
(agent replies) go through :meth:`WebSocketInput.get_output_channel`: kept in
the Redis outbox and published to whichever replica holds the connection; a
client reconnecting with ``?after=<last id>`` gets what it missed.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint
from sanic.exceptions import WebsocketClosed
from websockets.exceptions import ConnectionClosed
from sanic.request import Request

from bot import chat_input, errors, metrics, senders
from bot.chat_input import InvalidInput, MalformedJson
from bot.desk import Desk
from bot.media.attachments import Attachment, parse_attachment
from bot.desk.typing import TypingReports, report_customer_typing
from bot.outbox import MESSAGE_ID, Outbox, live_channel
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis, get_subscriber_redis
from bot.security import InvalidToken, session_from_token
from channels.common.attachment import understand_attachment
from channels.common.idempotency import Claim, fingerprint, idempotency, parse_key
from channels.common.output import ApiOutputChannel, OutboxOutput
from channels.common.settings import WebSocketSettings, chat_settings
from channels.common.turn import ServiceUnavailable, run_turn

logger = logging.getLogger(__name__)

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011
CLOSE_OVERLOADED = 1013
# The error frame's code for a chat frame refused by its turn (an attachment's 413/415/422, a busy id).
REFUSED_CODES = {"validation": "invalid_message", "body": "too_large", "media_type": "unsupported_media_type",
                 "conflict": "conflict"}
# What sending on a socket the client already closed raises.
SOCKET_GONE = (ConnectionClosed, WebsocketClosed, ConnectionError)


def frame(kind: str, data: Dict[str, Any], frame_id: Optional[str] = None) -> str:
    return json.dumps(
        {
            "type": kind,
            "data": data,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "id": frame_id or uuid.uuid4().hex,
        },
        ensure_ascii=False,
    )


class TurnFailed(Exception):
    """A turn ended in an error frame (already sent); its frame id is released for a retry."""


class Connection:
    """One open socket: reads client frames, runs turns, forwards live messages."""

    def __init__(self, ws: Any, session_id: str, channel: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self.sender_id = senders.sender_id(senders.WEB, session_id)
        self.channel = channel
        self._send_lock = asyncio.Lock()
        self._turn_lock = asyncio.Lock()  # one turn at a time, in arrival order
        self.typing = TypingReports()
        self.closed = False

    async def send(self, kind: str, data: Dict[str, Any], frame_id: Optional[str] = None) -> None:
        async with self._send_lock:
            await self.ws.send(frame(kind, data, frame_id))

    async def try_send(self, kind: str, data: Dict[str, Any]) -> None:
        """For frames that matter only while the client is there (typing, errors)."""
        try:
            await self.send(kind, data)
        except SOCKET_GONE as error:
            logger.debug("websocket: %s frame to %s not sent: %s", kind, self.sender_id, error)

    async def error(self, code: str, message: str, **extra: Any) -> None:
        metrics.record_error(self.channel, code)
        await self.try_send("error", {"code": code, "message": message, **extra})

    async def close(self, code: int, reason: str) -> None:
        self.closed = True
        await self.ws.close(code, reason)


class WebSocketOutput(ApiOutputChannel):
    """Replies of a turn, written to its socket; kept in the outbox if the socket
    closed meanwhile, so a reconnecting client still gets them."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.channel)
        self.connection = connection
        self.delivered: List[Dict[str, Any]] = []  # the turn's answer, kept for its frame id

    @classmethod
    def name(cls) -> Text:
        return "websocket_connection"

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.delivered.append(message)
        if not self.connection.closed:
            try:
                await self.connection.send("chat", message)
                return
            except SOCKET_GONE as error:  # closed under us: fall through to the outbox
                logger.info("websocket: %s closed during a turn (%s)", recipient_id, type(error).__name__)
        await Outbox.from_env().push(recipient_id, message, publish=True)


class WebSocketInput(InputChannel):
    """Plain WebSocket connector (see the module docstring for the protocol)."""

    def __init__(self, settings: Optional[WebSocketSettings] = None) -> None:
        self.settings = settings or chat_settings().websocket
        self.open_connections = 0

    @classmethod
    def name(cls) -> Text:
        return "websocket"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        return cls(chat_settings().websocket)

    def url_prefix(self) -> Text:
        return "/"

    def get_output_channel(self) -> OutboxOutput:
        """Kept in Redis and published to the replica holding the connection."""
        return OutboxOutput(self.name(), publish=True)

    async def _admit(self, request: Request, conn: Connection) -> bool:
        """Checks before the first frame; closes the socket and says False on failure."""
        try:
            chat_input.session_id(conn.session_id)
        except InvalidInput as error:
            await conn.close(CLOSE_POLICY, error.detail[:120])
            return False
        if self.settings.jwt_secret:
            try:
                bound = session_from_token(request.args.get("token"), self.settings.jwt_secret)
                if bound != conn.session_id:
                    raise InvalidToken("token is for another session")
            except InvalidToken as error:
                metrics.record_error(self.name(), "unauthorized")
                await conn.close(CLOSE_POLICY, f"invalid token: {error}"[:120])
                return False
        if self.open_connections >= self.settings.max_connections:
            metrics.record_error(self.name(), "overloaded")
            await conn.close(CLOSE_OVERLOADED, "too many connections, retry later")
            return False
        return True

    async def _forward_live(self, conn: Connection, pubsub: Any) -> None:
        """Messages published for this session by any replica, as ``chat`` frames."""
        try:
            while not conn.closed:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if item and item.get("type") == "message":
                    published = json.loads(item["data"])
                    if published.get("type") == "typing":  # an atendente typing (desk)
                        await conn.send("typing", {"active": bool(published.get("active"))})
                    else:
                        await conn.send("chat", published["message"], published["id"])
        except (RedisError, OSError) as error:
            logger.error("websocket: live delivery for %s lost Redis: %s", conn.sender_id, error)
            await conn.close(CLOSE_ERROR, "message store unavailable, reconnect with ?after=")
        except SOCKET_GONE as error:
            logger.debug("websocket: live delivery for %s stopped: %s", conn.sender_id, error)
        except Exception:  # guards the background forwarder: logged with its stack, counted
            logger.exception("websocket: live delivery for %s failed", conn.sender_id)
            metrics.record_unexpected("websocket.forward_live")

    async def _chat(self, request: Request, conn: Connection, incoming: Dict[str, Any], on_new_message) -> None:
        """One ``chat`` frame: checked, then a turn, once per frame ``id`` (idempotency key)."""
        data = incoming.get("data")
        try:
            if not isinstance(data, dict):
                raise InvalidInput("data", "must be an object with a message")
            chat_input.no_unknown_fields(data, ("message", "metadata", "attachment"), "data.")
            attachment = parse_attachment(data.get("attachment"), "data.attachment")
            text = chat_input.message_text(data.get("message"), "data.message", optional=attachment is not None)
            metadata = chat_input.metadata(data.get("metadata"), "data.metadata")
            key = parse_key(incoming.get("id"), "id")
        except errors.InvalidInput as error:
            await conn.error("invalid_message", error.message, field=error.field)
            return
        async with conn._turn_lock:
            try:
                outcome = await idempotency("id").run(
                    conn.sender_id, key, fingerprint(*chat_input.fingerprint_parts(text, metadata, attachment)),
                    lambda claim: self._turn(request, conn, text, metadata, on_new_message, claim, attachment))
            except TurnFailed:  # its error frame is sent
                return
            except (errors.InvalidInput, errors.PayloadTooLarge, errors.UnsupportedMediaType, errors.Conflict) as error:
                await conn.error(REFUSED_CODES[error.kind], error.message, field=error.field)
                return
            except errors.DependencyUnavailable:
                await conn.error("unavailable", "the conversation store (Redis) does not answer; retry later")
                return
            if outcome.replayed:  # the stored answer of this frame id, framed like a turn; no second turn
                await conn.try_send("typing", {"active": True})
                for message in outcome.body:
                    await conn.try_send("chat", message)
                await conn.try_send("typing", {"active": False})

    async def _turn(self, request: Request, conn: Connection, text: str, metadata: Any,
                    on_new_message, claim: Claim, attachment: Optional[Attachment] = None) -> List[Dict[str, Any]]:
        """Rate limit, then the turn; the messages it delivered. TurnFailed once the error frame is sent."""
        limiter = RateLimiter(get_redis(), self.settings.rate_limit_per_minute, "chat")
        try:
            wait = await limiter.hit(conn.sender_id)
        except (RedisError, OSError):
            await conn.error("unavailable", "the conversation store (Redis) does not answer; retry later")
            raise TurnFailed() from None
        if wait is not None:
            await conn.error("rate_limited", f"too many messages; retry in {wait}s", retry_after=wait)
            raise TurnFailed()
        await conn.try_send("typing", {"active": True})
        output = WebSocketOutput(conn)
        try:
            if attachment is not None:  # its words, intent or label, and what the bot saw; or a reply
                understood = await understand_attachment(request.app.ctx.agent, conn.sender_id, attachment, text)
                if understood.reply:
                    await output.send_text_message(conn.sender_id, understood.reply)
                    return output.delivered
                text, metadata = understood.text, {**(metadata or {}), **understood.metadata}
            message = UserMessage(text, output, conn.sender_id, input_channel=self.name(), metadata=metadata,
                                  message_id=claim.message_id)
            await run_turn(request.app, on_new_message, message, self.name(), recover=claim.recover)
        except ServiceUnavailable as error:
            await conn.error("unavailable", f"service unavailable: {error}; retry later")
            raise TurnFailed() from None
        except errors.AppError:  # the attachment's 422/413/415/503: answered by the caller, naming the field
            raise
        except Exception:  # guards a customer's turn: logged with its stack, counted
            logger.exception("websocket: turn of %s failed", conn.sender_id)
            metrics.record_unexpected("websocket.turn")
            await conn.error("internal_error", "the bot could not answer this message")
            raise TurnFailed() from None
        finally:
            await conn.try_send("typing", {"active": False})
        return output.delivered

    async def _serve(self, request: Request, ws: Any, session_id: str, on_new_message) -> None:
        conn = Connection(ws, session_id, self.name())
        if not await self._admit(request, conn):
            return
        after = request.args.get("after")
        if after is not None and not MESSAGE_ID.match(after):
            await conn.close(CLOSE_POLICY, "after: must be a message id like 1732590000000-0")
            return
        try:
            pubsub = get_subscriber_redis().pubsub()
            await pubsub.subscribe(live_channel(conn.sender_id))
            missed = await Outbox.from_env().after(conn.sender_id, after) if after else []
        except (RedisError, OSError) as error:
            logger.error("websocket: Redis is not available: %s", error)
            await conn.close(CLOSE_ERROR, "message store unavailable, retry later")
            return
        self.open_connections += 1
        metrics.CONNECTIONS.labels(channel=self.name()).inc()
        forwarder = asyncio.ensure_future(self._forward_live(conn, pubsub))
        turns = set()
        try:
            await conn.send("connection", {"session_id": session_id, "status": "connected"})
            for message in missed:
                message_id = message.pop("id")
                await conn.send("chat", message, message_id)
            await self._read_frames(request, conn, on_new_message, turns)
        except (ConnectionClosed, WebsocketClosed):
            logger.debug("websocket: %s disconnected", conn.sender_id)
        finally:
            conn.closed = True
            self.open_connections -= 1
            metrics.CONNECTIONS.labels(channel=self.name()).dec()
            forwarder.cancel()
            try:
                await pubsub.reset()
            except (RedisError, OSError):  # the connection is gone anyway
                pass

    async def _read_frames(self, request: Request, conn: Connection, on_new_message, turns: set) -> None:
        while True:
            raw = await conn.ws.recv(timeout=self.settings.idle_timeout_seconds)
            if raw is None:
                if turns:  # the bot is still answering: not idle
                    continue
                await conn.close(1000, "idle timeout")
                return
            size = len(raw.encode() if isinstance(raw, str) else raw)
            if size > chat_input.MAX_BODY_BYTES:
                await conn.error("too_large", f"frame: larger than {chat_input.MAX_BODY_BYTES} bytes")
                await conn.close(CLOSE_TOO_BIG, "frame too large")
                return
            if isinstance(raw, bytes):
                await conn.error("invalid_frame", "frame: binary frames are not supported, send JSON text")
                continue
            try:
                incoming = chat_input.parse_json(raw, field="frame")
            except MalformedJson as error:
                await conn.error("invalid_json", str(error), field="frame")
                continue
            if not isinstance(incoming, dict) or not isinstance(incoming.get("type"), str):
                await conn.error("invalid_frame", "type: every frame is an object with a string type")
                continue
            kind = incoming["type"]
            if kind == "ping":
                await conn.send("pong", {"reply_to": incoming.get("id")})
            elif kind == "chat":
                task = asyncio.ensure_future(self._chat(request, conn, incoming, on_new_message))
                turns.add(task)
                task.add_done_callback(turns.discard)
            elif kind == "typing":
                await self._typing(conn, incoming.get("data"))
            else:
                await conn.error("unknown_type", f"type: unknown frame type {kind[:40]!r} (chat, typing, ping)")

    async def _typing(self, conn: Connection, data: Any) -> None:
        """The customer typing: shown to the atendente who has the conversation, if any."""
        active = data.get("active") if isinstance(data, dict) else None
        if not isinstance(active, bool):
            await conn.error("invalid_frame", "data.active: true or false", field="data.active")
            return
        if conn.typing.worth_sending(active):
            try:
                await report_customer_typing(Desk.shared(), conn.sender_id, active)
            except (RedisError, OSError) as error:  # cosmetic: never close the socket for it
                logger.warning("websocket: typing of %s not shown: %s", conn.sender_id, type(error).__name__)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_websocket", __name__)

        @bp.websocket("/ws/chat/<session_id>")
        async def chat(request: Request, ws: Any, session_id: str) -> None:
            await self._serve(request, ws, session_id, on_new_message)

        return bp
