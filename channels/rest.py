"""The chat REST API for integrators: ``/api/v1/chat``, plus ``/health`` and ``/metrics``.

Loaded from ``credentials.yml`` as ``channels.rest.RestApiInput:``. Its
``url_prefix()`` is ``/`` so Rasa mounts the blueprint at the server root
(``urljoin("/webhooks/", "/") == "/"``) and the paths below are absolute.

- ``POST /api/v1/chat`` ``{session_id, message, metadata?, attachment?}`` ->
  ``{session_id, messages: [...], timestamp}``; sender id ``api:<session_id>``.
  ``attachment`` is ``{url}`` or ``{data: base64}`` (+ ``filename``): a voice
  note, a photo or a PDF taken like a WhatsApp file (``message`` is then its
  optional caption; ``channels/common/attachment.py``).
- ``GET /api/v1/chat/stream?session_id=&message=``: Server-Sent Events,
  ``message`` events as the bot produces them, then ``done`` (or ``error``).
- ``GET /api/v1/chat/<session_id>/messages?after=<id>``: messages delivered
  later through :meth:`RestApiInput.get_output_channel` (agent replies).
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import chat_input, metrics, senders
from bot.chat_input import InvalidInput
from bot.errors import AppError, DependencyUnavailable
from bot.outbox import MESSAGE_ID, Outbox
from bot.media.understanding import Understood
from channels.common import health
from channels.common.attachment import understand_attachment
from channels.common.errors import REDIS_DOWN, status_of
from channels.common.http import (
    api_turn, as_handler, authorize, failed, idempotency_key, metric_kind, rate_limit,
    refuse_other_methods, replay_headers, request_id,
)
from channels.common.idempotency import Claim, fingerprint, idempotency
from channels.common.settings import ApiSettings, chat_settings
from channels.common.output import CollectingApiOutput, OutboxOutput, QueueApiOutput

logger = logging.getLogger(__name__)

MAX_PAGE = 100


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def sender_id(session_id: str) -> str:
    return senders.sender_id(senders.API, session_id)


def sse(event: str, data: Dict[str, Any], event_id: Optional[int] = None) -> str:
    """One Server-Sent Event (JSON data on one line)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


class RestApiInput(InputChannel):
    """Chat REST API connector (see the module docstring for the contract)."""

    def __init__(self, settings: Optional[ApiSettings] = None) -> None:
        self.settings = settings or chat_settings().api

    @classmethod
    def name(cls) -> Text:
        return "rest_api"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        return cls(chat_settings().api)

    def url_prefix(self) -> Text:
        return "/"

    def get_output_channel(self) -> OutboxOutput:
        """Messages outside a request go to the session's outbox (``?after=``)."""
        return OutboxOutput(self.name(), publish=False)

    # -- request checks ------------------------------------------------------

    def _authorize(self, request: Request) -> None:
        authorize(self.settings.api_keys, request)

    async def _rate_limit(self, session_id: str) -> None:
        await rate_limit(self.settings.rate_limit_per_minute, sender_id(session_id), "session_id")

    def _cors_headers(self, request: Request) -> Dict[str, str]:
        origin = request.headers.get("origin")
        allowed = self.settings.cors_origins
        if not origin or not allowed or ("*" not in allowed and origin not in allowed):
            return {}
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Expose-Headers": "X-Request-ID, Retry-After, Idempotent-Replayed",
        }
        if request.method == "OPTIONS":
            headers.update({
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID, Idempotency-Key",
                "Access-Control-Max-Age": "600",
            })
        return headers

    # -- the turn ------------------------------------------------------------

    def _user_message(self, chat: chat_input.ChatRequest, output, message_id: Optional[str] = None,
                      understood: Optional[Understood] = None) -> UserMessage:
        text, metadata = chat.message, chat.metadata
        if understood is not None:  # an attachment: its words, intent or label, and what the bot saw
            text, metadata = understood.text, {**(metadata or {}), **understood.metadata}
        return UserMessage(
            text, output, sender_id(chat.session_id),
            input_channel=self.name(), metadata=metadata, message_id=message_id,
        )

    # -- routes (each answers its errors through channels.common) -------------

    async def _start(self, request: Request) -> Optional[HTTPResponse]:
        request.ctx.request_id = request_id(request)
        if request.method == "OPTIONS":  # a CORS preflight (Rasa's sanic-cors may answer first)
            return response.empty(status=204)
        return None

    async def _finish(self, request: Request, resp: HTTPResponse) -> None:
        resp.headers["X-Request-ID"] = getattr(request.ctx, "request_id", None) or uuid.uuid4().hex
        for key, value in self._cors_headers(request).items():
            resp.headers[key] = value

    async def chat(self, request: Request, on_new_message) -> HTTPResponse:
        """``POST /api/v1/chat``: one turn, the replies in the response."""
        try:
            self._authorize(request)
            key = idempotency_key(request)
            raw = request.body or b""
            chat = (chat_request_with_attachment(raw) if len(raw) <= chat_input.MAX_BODY_BYTES else
                    await asyncio.to_thread(chat_request_with_attachment, raw))  # a base64 file: ~0.1 s of CPU

            async def turn(claim: Claim) -> Dict[str, Any]:
                await self._rate_limit(chat.session_id)
                output = CollectingApiOutput(self.name())
                understood = None
                if chat.attachment is not None:
                    understood = await understand_attachment(request.app.ctx.agent, sender_id(chat.session_id),
                                                             chat.attachment, chat.message)
                if understood is not None and understood.reply:  # the bot cannot use the file: no turn
                    await output.send_text_message(sender_id(chat.session_id), understood.reply)
                else:
                    await api_turn(request, on_new_message,
                                   self._user_message(chat, output, claim.message_id, understood),
                                   self.name(), recover=claim.recover)
                return {"session_id": chat.session_id, "messages": output.messages, "timestamp": now_iso()}

            outcome = await idempotency().run(
                sender_id(chat.session_id), key, fingerprint(*chat.fingerprint_parts()), turn)
        except AppError as error:
            return failed(self.name(), error)
        return response.json(outcome.body, headers=replay_headers(outcome))

    async def stream(self, request: Request, on_new_message) -> Optional[HTTPResponse]:
        """``GET /api/v1/chat/stream``: the replies as Server-Sent Events, then ``done``/``error``."""
        try:
            self._authorize(request)
            chat = stream_request(request)
            await self._rate_limit(chat.session_id)
        except AppError as error:
            return failed(self.name(), error)

        queue: asyncio.Queue = asyncio.Queue()
        done = object()
        message = self._user_message(chat, QueueApiOutput(self.name(), queue))
        task = asyncio.ensure_future(api_turn(request, on_new_message, message, self.name()))
        task.add_done_callback(lambda _: queue.put_nowait(done))
        resp = await request.respond(
            content_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        count = 0
        try:
            while (item := await queue.get()) is not done:
                count += 1
                await resp.send(sse("message", item, count))
            error = task.exception()
            if isinstance(error, AppError):
                metrics.record_error(self.name(), metric_kind(error))
                await resp.send(sse("error", {"status": status_of(error), "detail": error.message}))
            else:
                await resp.send(sse("done", {
                    "session_id": chat.session_id, "count": count, "timestamp": now_iso(),
                }))
            await resp.eof()
        except (ConnectionError, OSError, SanicException) as error:  # the client went away
            # the turn still completes (its replies are in the tracker)
            logger.info("rest_api: stream of %s closed early: %s", message.sender_id, type(error).__name__)
        return None

    async def later_messages(self, request: Request, session_id: str) -> HTTPResponse:
        """``GET /api/v1/chat/<session_id>/messages?after=``: what was delivered outside a request."""
        try:
            self._authorize(request)
            session_id, after, limit = page_request(request, session_id)
            try:
                messages = await Outbox.from_env().after(sender_id(session_id), after, limit)
            except (RedisError, OSError) as error:
                logger.error("rest_api: Redis is not available: %s", error)
                raise DependencyUnavailable(REDIS_DOWN) from None
        except AppError as error:
            return failed(self.name(), error)
        return response.json({
            "session_id": session_id,
            "messages": messages,
            "last_id": messages[-1]["id"] if messages else after,
            "timestamp": now_iso(),
        })

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_rest_api", __name__)
        bp.middleware("request")(self._start)
        bp.middleware("response")(self._finish)

        async def chat(request: Request) -> HTTPResponse:
            return await self.chat(request, on_new_message)

        async def stream(request: Request) -> Optional[HTTPResponse]:
            return await self.stream(request, on_new_message)

        bp.add_route(chat, "/api/v1/chat", methods=["POST", "OPTIONS"])
        bp.add_route(stream, "/api/v1/chat/stream", methods=["GET", "OPTIONS"])
        bp.add_route(as_handler(self.later_messages), "/api/v1/chat/<session_id>/messages", methods=["GET", "OPTIONS"])
        refuse_other_methods(bp, "/api/v1/chat", ("POST", "OPTIONS"), "chat")
        refuse_other_methods(bp, "/api/v1/chat/stream", ("GET", "OPTIONS"), "stream")
        refuse_other_methods(bp, "/api/v1/chat/<session_id>/messages", ("GET", "OPTIONS"), "later_messages")
        health.register(bp)  # /health, /metrics (METRICS_TOKEN); refuses unsafe start-up
        return bp


def chat_request_with_attachment(raw: bytes) -> chat_input.ChatRequest:
    """The body of ``POST /api/v1/chat``, which may carry a file as base64."""
    body = chat_input.parse_json(raw, max_bytes=chat_input.attachment_body_bytes())
    return chat_input.chat_request(body, attachments=True, body_bytes=len(raw))


def stream_request(request: Request) -> chat_input.ChatRequest:
    """The chat request of ``GET /api/v1/chat/stream`` (``metadata`` as a JSON query value)."""
    args = {key: request.args.get(key) for key in request.args}
    if args.get("metadata") is not None:
        try:
            args["metadata"] = chat_input.parse_json(args["metadata"], field="metadata")
        except (chat_input.MalformedJson, chat_input.TooLarge) as error:
            raise InvalidInput("metadata", f"must be a JSON object ({error})") from None
    return chat_input.chat_request(args)


def page_request(request: Request, session_id: str) -> Tuple[str, Optional[str], int]:
    """``(session_id, after, limit)`` of ``GET .../messages``, each checked."""
    chat_input.no_unknown_fields(dict(request.args), ("after", "limit"))
    session_id = chat_input.session_id(session_id)
    after = request.args.get("after") or None
    if after is not None and not MESSAGE_ID.match(after):
        raise InvalidInput("after", "must be a message id like 1732590000000-0")
    limit_arg = request.args.get("limit", str(MAX_PAGE))
    if not limit_arg.isdigit() or not 1 <= int(limit_arg) <= MAX_PAGE:
        raise InvalidInput("limit", f"must be an integer from 1 to {MAX_PAGE}")
    return session_id, after, int(limit_arg)
