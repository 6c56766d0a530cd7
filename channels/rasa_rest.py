"""Rasa's REST webhook, ``POST /webhooks/rest/webhook``, with the chat API's checks.

Loaded from ``credentials.yml`` as ``channels.rasa_rest.RasaRestInput:`` in
place of Rasa's stock ``rest:``, which answered ``200 []`` and lost the
message when Redis failed, took any sender id (so anyone could write into a
WhatsApp customer's ``wa:`` conversation) and answered a 500 to ``null``.
Same contract as Rasa's: ``{"sender", "message", "metadata"?}`` ->
``[{"recipient_id", "text", "buttons"?, "image"?, "custom"?, ...}]`` (Rasa's
``CollectingOutputChannel``, one entry per paragraph), so existing clients
keep working. Errors are the chat API's (``channels/common/http.py``):
``{"detail": "<field>: ...", "field"}`` with 400, 401 (``CHAT_API_KEYS``),
413, 422, 429 (``CHAT_RATE_LIMIT_PER_MINUTE``, per sender) and 503.
"""
from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import chat_input, senders
from bot.chat_input import InvalidInput
from bot.errors import AppError
from bot.pii import install_log_masking
from channels.common.http import api_turn, authorize, failed, idempotency_key, json_body, rate_limit, replay_headers, request_id
from channels.common.idempotency import Claim, fingerprint, idempotency
from channels.common.settings import ApiSettings, chat_settings

SENDER = re.compile(r"^[A-Za-z0-9_.:@+-]{1,128}$")
SENDER_RULE = "1 to 128 characters among A-Z a-z 0-9 _ . : @ + -"
# Longer than the chat API's 4,096 (what Rasa's REST clients have been sending), within the 64 KB body.
MAX_MESSAGE_CHARS = 10_000


def sender(value: Any) -> str:
    if value is None:
        raise InvalidInput("sender", "is required")
    if not isinstance(value, str):
        raise InvalidInput("sender", f"must be a string, got {type(value).__name__}")
    if not SENDER.match(value):
        raise InvalidInput("sender", f"must be {SENDER_RULE}")
    if senders.is_reserved(value.lower()):  # sender ids other connectors give their customers
        raise InvalidInput(
            "sender", f"must not start with another channel's prefix ({', '.join(senders.RESERVED_PREFIXES)})"
        )
    return value


def message(value: Any) -> str:
    """The text as Rasa's REST channel took it: may be empty (the bot asks what the customer needs)."""
    if value is None:
        raise InvalidInput("message", "is required")
    if not isinstance(value, str):
        raise InvalidInput("message", f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_MESSAGE_CHARS:
        raise InvalidInput("message", f"must be at most {MAX_MESSAGE_CHARS} characters")
    return chat_input.clean_text(value)


def webhook_request(body: Any) -> tuple:
    """``(sender, message, metadata)`` of a decoded body."""
    if not isinstance(body, dict):
        raise InvalidInput("body", f"must be a JSON object, got {type(body).__name__}")
    chat_input.no_unknown_fields(body, ("sender", "message", "metadata"))
    return sender(body.get("sender")), message(body.get("message")), chat_input.metadata(body.get("metadata"))


class RasaRestInput(InputChannel):
    """Rasa's ``rest`` channel, same route and shapes, with honest failures."""

    def __init__(self, settings: Optional[ApiSettings] = None) -> None:
        self.settings = settings or chat_settings().api

    @classmethod
    def name(cls) -> Text:
        return "rest"  # the stock channel's name: route, input_channel and desk stay the same

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "InputChannel":
        return cls(chat_settings().api)

    async def receive(self, request: Request, on_new_message) -> HTTPResponse:
        """``POST /webhooks/rest/webhook``: one turn, Rasa's collected messages as the answer."""
        channel = self.name()
        try:
            authorize(self.settings.api_keys, request)
            key = idempotency_key(request)
            sender_id, text, metadata = webhook_request(json_body(request))

            async def turn(claim: Claim) -> list:
                await rate_limit(self.settings.rate_limit_per_minute, sender_id, "sender")
                output = CollectingOutputChannel()
                await api_turn(request, on_new_message, UserMessage(
                    text, output, sender_id, input_channel=channel, metadata=metadata,
                    message_id=claim.message_id,
                ), channel, recover=claim.recover)
                return output.messages

            outcome = await idempotency().run(sender_id, key, fingerprint(text, metadata), turn)
        except AppError as error:
            return failed(channel, error)
        return response.json(outcome.body, headers=replay_headers(outcome))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("isp_rasa_rest", __name__)
        bp.middleware("response")(add_request_id)
        bp.listener("before_server_start")(mask_logs)
        bp.add_route(alive, "/", methods=["GET"])

        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        bp.add_route(receive, "/webhook", methods=["POST"])
        return bp


async def add_request_id(request: Request, resp: HTTPResponse) -> None:
    resp.headers["X-Request-ID"] = request_id(request)


async def mask_logs(*_: Any) -> None:
    """Sanic adds its own log handlers after logging.yml: mask theirs too."""
    install_log_masking()


async def alive(_: Request) -> HTTPResponse:
    """``GET /webhooks/rest/``, as Rasa's stock channel answers it."""
    return response.json({"status": "ok"})
