"""Meta's webhook for the WhatsApp Cloud API: verification and notifications in.

Loaded from ``credentials.yml`` as ``channels.whatsapp.WhatsAppInput``; served
at ``/webhooks/whatsapp/webhook``. Meta wants a fast 200 and retries a
delivery for days, so a POST is verified (signature), claimed in Redis (one
synchronous round trip: the de-duplication record per message id, shared by
every replica, and an inbox entry that outlives this process,
:mod:`channels.whatsapp.inbox`) and acknowledged before any NLU runs; the
messages are then handled in a background task, in order per customer
(:mod:`channels.whatsapp.turns`). Without the claim nothing is processed:
the webhook answers 503 and Meta delivers again later. Errors become HTTP answers in ``channels/common/errors.py``.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Union

from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage

from bot import chat_input
from bot.errors import DependencyUnavailable, Forbidden, MalformedRequest, PayloadTooLarge
from channels.whatsapp.signature import valid_signature
from channels.common.errors import install_error_handlers
from channels.common.http import as_handler
from channels.whatsapp.inbox import Inbox, Taken
from channels.whatsapp.graph import GraphClient
from channels.whatsapp.inbound import Inbound, Notification, Status, parse_notification
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.settings import WhatsAppSettings
from bot.media.understanding import transcriber, vision_reader
from channels.whatsapp.turns import CHANNEL, CustomerQueue, Turns

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
SHUTDOWN_GRACE_SECONDS = 10

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WhatsAppInput(InputChannel):
    """Meta's webhook (verification and notifications) for the Cloud API."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(WhatsAppSettings.from_env(credentials))

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self.graph = GraphClient(settings)
        self.queue = CustomerQueue()
        self.inbox = Inbox(settings.inbox)
        if not settings.app_secret:
            logger.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook POST is refused (403)")

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.graph, self.settings.phone_number_id)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Webhook(self, on_new_message)
        blueprint = Blueprint("whatsapp_webhook", __name__)
        blueprint.add_route(as_handler(webhook.health), "/", methods=["GET"])
        blueprint.add_route(as_handler(webhook.verify), "/webhook", methods=["GET"])
        blueprint.add_route(as_handler(webhook.receive), "/webhook", methods=["POST"])
        blueprint.listener("after_server_start")(as_handler(webhook.keep_inbox))
        blueprint.listener("before_server_stop")(as_handler(webhook.drain))
        blueprint.listener("after_server_start")(as_handler(warm_up_transcription))
        install_error_handlers(blueprint)
        return blueprint



class Webhook:
    """The routes of one ``WhatsAppInput``; each one a method."""

    def __init__(self, channel: WhatsAppInput, on_new_message: OnNewMessage) -> None:
        self.settings = channel.settings
        self.graph = channel.graph
        self.queue = channel.queue
        self.inbox = channel.inbox
        self.app: Any = None
        self._keeper: "Optional[asyncio.Task]" = None
        self.turns = Turns(channel.graph, channel.settings.phone_number_id)
        self.on_new_message = on_new_message

    async def health(self, _: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    async def verify(self, request: Request) -> HTTPResponse:
        """Meta's subscription check: echo ``hub.challenge`` for our verify token (plain text, Meta's protocol)."""
        token = request.args.get("hub.verify_token", "")
        challenge = request.args.get("hub.challenge", "")
        expected = self.settings.verify_token
        if (
            request.args.get("hub.mode") == "subscribe"
            and expected
            and challenge
            and hmac.compare_digest(token.encode(), expected.encode())
        ):
            return response.text(challenge)
        return response.text("verification failed", status=403)

    async def receive(self, request: Request) -> HTTPResponse:
        notification = self._notification(request)
        for reason in notification.dropped:  # acknowledged anyway: Meta would retry for days
            logger.warning("WhatsApp: malformed notification part: %s", reason)
        failures = [s for s in notification.statuses if s.status == "failed"]
        try:
            messages, failed = self.inbox.claim(notification.messages, failures)
        except RedisError as error:
            logger.error("WhatsApp delivery refused, Redis unavailable: %s", type(error).__name__)
            raise DependencyUnavailable("de-duplication store unavailable, retry later") from None
        agent = getattr(request.app.ctx, "agent", None)
        for entry_id, item in [*messages, *failed]:
            self._handle(entry_id, item, agent)
        for status in notification.statuses:  # counted per campaign when the message was proactive
            self.queue.spawn(status.recipient_id, self.turns.status(status))
        return response.json({"status": "received"})

    def _notification(self, request: Request) -> Notification:
        """The signed body as records; :class:`~bot.errors.AppError` when it cannot be."""
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
        if not valid_signature(self.settings.app_secret, body, request.headers.get("X-Hub-Signature-256")):
            raise Forbidden("X-Hub-Signature-256 missing or invalid")
        try:
            payload = chat_input.parse_json(body, max_bytes=MAX_BODY_BYTES)
        except ValueError as error:  # chat_input's MalformedJson
            raise MalformedRequest(str(error)) from None
        return parse_notification(payload)  # InvalidNotification is a MalformedRequest

    async def keep_inbox(self, app: Any, *_: Any) -> None:
        """``after_server_start``: this worker's heartbeat, and the messages of
        dead workers (or of its own failed turns) taken over and run again."""
        self.app = app
        self._keeper = asyncio.create_task(self.inbox.keep(self._run_again))

    def _run_again(self, taken: Taken) -> None:
        self._handle(taken.entry_id, taken.item, getattr(self.app.ctx, "agent", None), taken_over=True)

    def _handle(self, entry_id: str, item: Union[Inbound, Status], agent: Any, taken_over: bool = False) -> None:
        """A claimed message (or failed status) in the background, after the customer's
        previous ones; its inbox entry deleted when it is done."""
        if isinstance(item, Status):
            customer, work = item.recipient_id, self.turns.failure(item)
        else:
            customer, work = item.wa_id, self.turns.message(item, self.on_new_message, agent, taken_over=taken_over)
        self.queue.spawn(customer, self.inbox.run(entry_id, work))

    async def drain(self, *_: Any) -> None:
        """Let running turns finish before the server goes away; what does not
        finish stays in the inbox, for another worker once this heartbeat is gone."""
        if self._keeper is not None:  # takes nothing over while going away
            self._keeper.cancel()
        await self.queue.drain(SHUTDOWN_GRACE_SECONDS)
        await self.inbox.stop()
        await self.graph.close()


async def warm_up_transcription(*_: Any) -> None:
    """Import and build what the first voice note (and photo) needs before any arrives:
    done lazily, it blocked this process's event loop (every webhook ack) ~0.4 s."""
    transcriber().warm_up()
    vision_reader().warm_up()
