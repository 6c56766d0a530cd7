"""The chat REST API for integrators: ``/api/v1/chat``, plus ``/health`` and ``/metrics``.

Loaded from ``credentials.yml`` as ``channels.rest.RestApiInput:``. Its
``url_prefix()`` is ``/`` so Rasa mounts the blueprint at the server root
(``urljoin("/webhooks/", "/") == "/"``) and the paths below are absolute.

- ``POST /api/v1/chat`` ``{session_id, message, metadata?}`` ->
  ``{session_id, messages: [...], timestamp}``; sender id ``api:<session_id>``.
- ``GET /api/v1/chat/stream?session_id=&message=``: Server-Sent Events,
  ``message`` events as the bot produces them, then ``done`` (or ``error``).
- ``GET /api/v1/chat/<session_id>/messages?after=<id>``: messages delivered
  later through :meth:`RestApiInput.get_output_channel` (agent replies).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import chat_input, metrics
from bot.chat_input import InvalidInput, MalformedJson, TooLarge
from bot.outbox import MESSAGE_ID, Outbox
from bot.rate_limit import RateLimiter
from bot.redis_pool import get_redis
from bot.settings import env_int
from channels.common import health
from channels.common.output import CollectingApiOutput, OutboxOutput, QueueApiOutput
from channels.common.turn import ServiceUnavailable, check_redis, run_turn

logger = logging.getLogger(__name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_PAGE = 100


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def sender_id(session_id: str) -> str:
    return f"api:{session_id}"


@dataclass(frozen=True)
class RestApiSettings:
    api_keys: Tuple[str, ...]
    rate_limit_per_minute: int
    cors_origins: Tuple[str, ...]

    @classmethod
    def from_env(cls) -> "RestApiSettings":
        def listed(name: str) -> Tuple[str, ...]:
            return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())

        return cls(
            api_keys=listed("CHAT_API_KEYS"),
            rate_limit_per_minute=env_int("CHAT_RATE_LIMIT_PER_MINUTE", 30),
            cors_origins=listed("CHAT_CORS_ORIGINS"),
        )


class ApiError(Exception):
    """An error answered as ``{"detail": ...}`` with an HTTP status."""

    def __init__(self, status: int, detail: str, kind: str, field: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.field = field
        self.headers = headers or {}

    def response(self) -> HTTPResponse:
        body: Dict[str, Any] = {"detail": self.detail}
        if self.field:
            body["field"] = self.field
        return response.json(body, status=self.status, headers=self.headers)


def invalid(error: InvalidInput) -> ApiError:
    return ApiError(422, error.detail, "validation", field=error.field)


def authorize(api_keys: Tuple[str, ...], request: Request) -> None:
    """401 unless ``Authorization: Bearer <key>`` is one of ``api_keys`` (none set: open)."""
    if not api_keys:
        return
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() == "bearer" and key and any(
        hmac.compare_digest(key.encode(), allowed.encode()) for allowed in api_keys
    ):
        return
    raise ApiError(
        401, "Authorization: a valid bearer API key is required", "unauthorized",
        field="Authorization", headers={"WWW-Authenticate": "Bearer"},
    )


async def rate_limit(per_minute: int, sender: str, field: str) -> None:
    """429 over ``per_minute`` messages of ``sender`` (one budget per sender, in Redis); 503 without Redis."""
    redis = get_redis()
    limiter = RateLimiter(redis, per_minute, "chat")
    try:
        wait = await limiter.hit(sender)
        if limiter.limit <= 0:
            await check_redis(redis)
    except (RedisError, OSError, ServiceUnavailable) as error:
        logger.error("rest_api: Redis is not available: %s", error)
        raise ApiError(503, "service unavailable: the conversation store (Redis) does not answer", "unavailable") from None
    if wait is not None:
        raise ApiError(
            429, f"{field}: more than {limiter.limit} messages per minute; retry in {wait}s",
            "rate_limited", field=field, headers={"Retry-After": str(wait)},
        )


def json_body(request: Request) -> Any:
    """The request's JSON through :func:`bot.chat_input.parse_json`: 413 too large, 400 malformed."""
    try:
        return chat_input.parse_json(request.body or b"")
    except TooLarge as error:
        raise ApiError(413, str(error), "validation", field="body") from None
    except MalformedJson as error:
        raise ApiError(400, str(error), "validation", field="body") from None


async def api_turn(request: Request, on_new_message, message: UserMessage, channel: str) -> None:
    """:func:`channels.common.turn.run_turn` with its failures as :class:`ApiError` (503, 500)."""
    try:
        await run_turn(request.app, on_new_message, message, channel)
    except ServiceUnavailable as error:
        raise ApiError(503, f"service unavailable: {error}", "unavailable") from None
    except Exception:
        logger.exception("%s: turn of %s failed", channel, message.sender_id)
        raise ApiError(500, "internal error; the request id is in the X-Request-ID header", "internal") from None


def sse(event: str, data: Dict[str, Any], event_id: Optional[int] = None) -> str:
    """One Server-Sent Event (JSON data on one line)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


class RestApiInput(InputChannel):
    """Chat REST API connector (see the module docstring for the contract)."""

    def __init__(self, settings: Optional[RestApiSettings] = None) -> None:
        self.settings = settings or RestApiSettings.from_env()

    @classmethod
    def name(cls) -> Text:
        return "rest_api"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        return cls(RestApiSettings.from_env())

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
            "Access-Control-Expose-Headers": "X-Request-ID, Retry-After",
        }
        if request.method == "OPTIONS":
            headers.update({
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID",
                "Access-Control-Max-Age": "600",
            })
        return headers

    # -- the turn ------------------------------------------------------------

    def _user_message(self, request: Request, chat: chat_input.ChatRequest, output) -> UserMessage:
        return UserMessage(
            chat.message, output, sender_id(chat.session_id),
            input_channel=self.name(), metadata=chat.metadata,
        )

    async def _turn(self, request: Request, on_new_message, message: UserMessage) -> None:
        await api_turn(request, on_new_message, message, self.name())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_rest_api", __name__)
        channel = self.name()

        @bp.middleware("request")
        async def start(request: Request) -> Optional[HTTPResponse]:
            given = request.headers.get("x-request-id", "")
            request.ctx.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
            if request.method == "OPTIONS":  # a CORS preflight (Rasa's sanic-cors may answer first)
                return response.empty(status=204)
            return None

        @bp.middleware("response")
        async def finish(request: Request, resp: HTTPResponse) -> None:
            request_id = getattr(request.ctx, "request_id", None) or uuid.uuid4().hex
            resp.headers["X-Request-ID"] = request_id
            for key, value in self._cors_headers(request).items():
                resp.headers[key] = value

        def failed(error: ApiError) -> HTTPResponse:
            metrics.record_error(channel, error.kind)
            return error.response()

        @bp.route("/api/v1/chat", methods=["POST", "OPTIONS"])
        async def chat(request: Request) -> HTTPResponse:
            try:
                self._authorize(request)
                chat = chat_input.chat_request(json_body(request))
                await self._rate_limit(chat.session_id)
                output = CollectingApiOutput(channel)
                await self._turn(request, on_new_message, self._user_message(request, chat, output))
            except InvalidInput as error:
                return failed(invalid(error))
            except ApiError as error:
                return failed(error)
            return response.json(
                {"session_id": chat.session_id, "messages": output.messages, "timestamp": now_iso()}
            )

        @bp.route("/api/v1/chat/stream", methods=["GET", "OPTIONS"])
        async def stream(request: Request) -> Optional[HTTPResponse]:
            try:
                self._authorize(request)
                args = {key: request.args.get(key) for key in request.args}
                try:
                    if args.get("metadata") is not None:
                        try:
                            args["metadata"] = chat_input.parse_json(args["metadata"], field="metadata")
                        except (MalformedJson, TooLarge) as error:
                            raise InvalidInput("metadata", f"must be a JSON object ({error})") from None
                    chat = chat_input.chat_request(args)
                except InvalidInput as error:
                    raise invalid(error) from None
                await self._rate_limit(chat.session_id)
            except ApiError as error:
                return failed(error)

            queue: asyncio.Queue = asyncio.Queue()
            done = object()
            message = self._user_message(request, chat, QueueApiOutput(channel, queue))
            task = asyncio.ensure_future(self._turn(request, on_new_message, message))
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
                if isinstance(error, ApiError):
                    metrics.record_error(channel, error.kind)
                    await resp.send(sse("error", {"status": error.status, "detail": error.detail}))
                else:
                    await resp.send(sse("done", {
                        "session_id": chat.session_id, "count": count, "timestamp": now_iso(),
                    }))
                await resp.eof()
            except Exception as error:  # the client went away; the turn still completes
                logger.info("rest_api: stream of %s closed early: %s", message.sender_id, type(error).__name__)
            return None

        @bp.route("/api/v1/chat/<session_id>/messages", methods=["GET", "OPTIONS"])
        async def later_messages(request: Request, session_id: str) -> HTTPResponse:
            try:
                self._authorize(request)
                try:
                    chat_input.no_unknown_fields(dict(request.args), ("after", "limit"))
                    session_id = chat_input.session_id(session_id)
                    after = request.args.get("after") or None
                    if after is not None and not MESSAGE_ID.match(after):
                        raise InvalidInput("after", "must be a message id like 1732590000000-0")
                    limit_arg = request.args.get("limit", str(MAX_PAGE))
                    if not limit_arg.isdigit() or not 1 <= int(limit_arg) <= MAX_PAGE:
                        raise InvalidInput("limit", f"must be an integer from 1 to {MAX_PAGE}")
                except InvalidInput as error:
                    raise invalid(error) from None
                try:
                    messages = await Outbox.from_env().after(sender_id(session_id), after, int(limit_arg))
                except (RedisError, OSError) as error:
                    logger.error("rest_api: Redis is not available: %s", error)
                    raise ApiError(503, "service unavailable: the conversation store (Redis) does not answer", "unavailable") from None
            except ApiError as error:
                return failed(error)
            return response.json({
                "session_id": session_id,
                "messages": messages,
                "last_id": messages[-1]["id"] if messages else after,
                "timestamp": now_iso(),
            })

        health.register(bp)  # /health, /metrics (METRICS_TOKEN); refuses unsafe start-up

        return bp
