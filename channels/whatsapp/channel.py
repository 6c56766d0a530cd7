"""Meta's webhook for the WhatsApp Cloud API: verification and notifications in.

Loaded from ``credentials.yml`` as ``channels.whatsapp.WhatsAppInput``; served
at ``/webhooks/whatsapp/webhook``. Meta wants a fast 200 and retries a
delivery for days, so a POST is verified (signature), de-duplicated in Redis
(one ``SET NX EX`` per message id, shared by every replica) and acknowledged
before any NLU runs; the messages are then handled in a background task, in
order per customer. Without the de-duplication record nothing is processed:
the webhook answers 503 and Meta delivers again later.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple

from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage

from bot import chat_input, senders
from bot.security import valid_signature
from channels.whatsapp.dedupe import first_seen
from channels.whatsapp.graph import GraphClient
from channels.whatsapp.inbound import RECEIPT_TYPES, Inbound, Status, parse_notification
from channels.whatsapp.menus import take_menu
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.settings import WhatsAppSettings
from channels.whatsapp.wire import menu_choice

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RECEIPT_INTENT = "inform_payment_done"
SHUTDOWN_GRACE_SECONDS = 10


def _detail(status: int, detail: str) -> HTTPResponse:
    return response.json({"detail": detail}, status=status)


class WhatsAppInput(InputChannel):
    """Meta's webhook (verification and notifications) for the Cloud API."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(WhatsAppSettings.from_env(credentials))

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self.graph = GraphClient(settings)
        self._tasks: set = set()
        self._tail: Dict[Text, asyncio.Task] = {}  # last task of each customer, to keep order
        if not settings.app_secret:
            logger.error("WHATSAPP_APP_SECRET is not set: every WhatsApp webhook POST is refused (403)")

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.graph, self.settings.phone_number_id)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        whatsapp_webhook = Blueprint("whatsapp_webhook", __name__)

        @whatsapp_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @whatsapp_webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """Meta's subscription check: echo ``hub.challenge`` for our verify token."""
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

        @whatsapp_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return _detail(413, f"body larger than {MAX_BODY_BYTES} bytes")
            signature = request.headers.get("X-Hub-Signature-256")
            if not valid_signature(self.settings.app_secret, body, signature):
                return _detail(403, "X-Hub-Signature-256 missing or invalid")
            try:
                notification = parse_notification(chat_input.parse_json(body, max_bytes=MAX_BODY_BYTES))
            except ValueError as error:  # MalformedJson, InvalidNotification
                return _detail(400, str(error))
            for reason in notification.dropped:  # acknowledged anyway: Meta would retry for days
                logger.warning("WhatsApp: malformed notification part: %s", reason)
            failures = [s for s in notification.statuses if s.status == "failed"]
            try:
                messages, failed = await self._claim(notification.messages, failures)
            except RedisError as error:
                logger.error("WhatsApp delivery refused, Redis unavailable: %s", type(error).__name__)
                return _detail(503, "de-duplication store unavailable, retry later")
            agent = getattr(request.app.ctx, "agent", None)
            for message in messages:
                self._spawn(message.wa_id, self._handle(message, on_new_message, agent))
            for status in failed:
                self._spawn(status.recipient_id, self._handle_failure(status))
            if notification.statuses:
                logger.debug("WhatsApp: %d delivery statuses received", len(notification.statuses))
            return response.json({"status": "received"})

        @whatsapp_webhook.listener("before_server_stop")
        async def drain(*_: Any) -> None:
            """Let running turns finish before the server goes away."""
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE_SECONDS)
            await self.graph.close()

        return whatsapp_webhook

    @staticmethod
    async def _claim(messages: Sequence[Inbound], failures: Sequence[Status]) -> Tuple[List[Inbound], List[Status]]:
        """The messages and failed statuses delivered for the first time (one Redis round trip)."""
        keys = [("seen", m.message_id) for m in messages] + [("failed", s.message_id) for s in failures]
        fresh = await first_seen(keys)
        if len(keys) - sum(fresh):
            logger.info("WhatsApp: %d duplicate deliveries ignored", len(keys) - sum(fresh))
        return (
            [m for m, first in zip(messages, fresh) if first],
            [s for s, first in zip(failures, fresh[len(messages):]) if first],
        )

    def _spawn(self, wa_id: Text, work: Awaitable[None]) -> None:
        """Run ``work`` in the background after the customer's previous work."""
        previous = self._tail.get(wa_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        self._tail[wa_id] = task
        task.add_done_callback(lambda done: self._finished(wa_id, done))

    def _finished(self, wa_id: Text, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if self._tail.get(wa_id) is task:
            del self._tail[wa_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("WhatsApp: a message could not be handled", exc_info=task.exception())

    async def _handle(self, message: Inbound, on_new_message: Callable, agent: Any) -> None:
        phone_number_id = message.phone_number_id or self.settings.phone_number_id
        output = WhatsAppOutput(self.graph, phone_number_id)
        sender_id = senders.sender_id(senders.WHATSAPP, message.wa_id)
        await self.graph.mark_read(message.message_id, phone_number_id)
        metadata = {
            "channel": "whatsapp",
            "wa_id": message.wa_id,
            "profile_name": message.profile_name,
            "phone_number_id": phone_number_id,
            "message_type": message.type,
        }
        text = message.text
        if message.readable:
            if message.type == "text":
                text = menu_choice(text, await take_menu(message.wa_id)) or text
        elif message.type in RECEIPT_TYPES and await self._awaiting_receipt(agent, sender_id):
            logger.info("WhatsApp: payment receipt (%s) received", message.type)
            text = "/" + RECEIPT_INTENT
            metadata["receipt"] = dict(message.media, type=message.type)
        elif message.is_reaction_removal:
            logger.debug("WhatsApp: reaction removed, nothing to answer")
            return
        else:
            await output.send_text_message(sender_id, message.reply())
            return
        await on_new_message(
            UserMessage(
                text,
                output,
                sender_id,
                input_channel=self.name(),
                message_id=message.message_id,
                metadata=metadata,
            )
        )

    async def _awaiting_receipt(self, agent: Any, sender_id: Text) -> bool:
        """The customer's latest intent was "ja paguei": media now is the receipt."""
        if agent is None or agent.tracker_store is None:
            return False
        try:
            tracker = await agent.tracker_store.retrieve(sender_id)
        except Exception as error:  # the store is Redis; a failure only loses the shortcut
            logger.error("WhatsApp: tracker not read (%s)", type(error).__name__)
            return False
        intent = (tracker.latest_message.intent or {}).get("name") if tracker and tracker.latest_message else None
        return intent == RECEIPT_INTENT

    async def _handle_failure(self, status: Status) -> None:
        """A bot message failed after acceptance; 131047 gets the fallback template."""
        logger.warning("WhatsApp: a sent message failed with codes %s", list(status.error_codes))
        if 131047 in status.error_codes:
            await self.graph.send_fallback_template(status.recipient_id, status.phone_number_id)
