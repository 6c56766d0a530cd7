"""Talking to a desk customer outside a turn: on their own channel, kept in the tracker.

An agent's reply, a queue-position notice, the goodbye and CSAT question
after closing: each goes out through the customer's channel (the connector in
``app.ctx.input_channels`` whose ``name()`` is the conversation's channel, via
Rasa's ``get_output_channel()``) and is appended to the customer's tracker as
a ``BotUttered`` (agent messages carry ``{"desk_agent": username}`` in their
metadata) under the conversation's lock, through the agent's tracker store,
so the transcript, the event broker and every replica see it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, List, Optional

from rasa.core.channels.channel import OutputChannel
from rasa.core.lock_store import LockError
from rasa.shared.core.events import (ActionExecuted, BotUttered, ConversationResumed, Event,
                                     SlotSet)
from redis.exceptions import RedisError
from sanic import Sanic
from sanic.exceptions import SanicException

from bot.desk import handoff as texts
from bot.desk.conversations import Conversation
from bot.media import MediaLinks, StoredMedia, media_settings
from bot.metrics import record_unexpected
from bot.outreach.settings import outreach_settings
from bot.outreach.templates import approved_templates
from bot.outreach.window import CustomerWindows
from bot.phones import whatsapp_number
from bot.redis_pool import get_redis
from channels.common.conversation import append_events

logger = logging.getLogger(__name__)

DESK_SLOT = "desk_conversation_id"
RESUME_ATTEMPTS = 3


class Undeliverable(Exception):
    """The customer's channel cannot send outside a request (e.g. Rasa's ``rest``)."""


def current_app() -> Sanic:
    """The Rasa server's Sanic app (one per process)."""
    try:
        return Sanic.get_app("rasa_server")
    except SanicException:  # not Rasa's usual name: the one app of this process
        return Sanic.get_app()


class CustomerLine:
    def __init__(self, app: Sanic):
        self.app = app

    def output_for(self, channel: str) -> Optional[OutputChannel]:
        for input_channel in getattr(self.app.ctx, "input_channels", None) or []:
            if input_channel.name() == channel:
                output = input_channel.get_output_channel()
                if output is not None:
                    return output
        return None

    async def append(self, sender_id: str, events: Iterable[Event]) -> None:
        """Append to the tracker under the Redis lock, as a turn would."""
        await append_events(self.app.ctx.agent, sender_id, events)

    async def _send(self, conversation: Conversation, messages: List[Dict[str, Any]],
                    required: bool) -> bool:
        output = self.output_for(conversation.channel)
        if output is None:
            if required:
                raise Undeliverable(f"channel {conversation.channel!r} cannot deliver "
                                    "messages outside a customer's request")
            logger.warning("desk: %s has no output channel; message kept in the transcript only",
                           conversation.channel)
            return False
        for message in messages:
            await output.send_response(conversation.sender_id, dict(message))
        return True

    async def say(self, conversation: Conversation, text: str,
                  buttons: Optional[List[Dict[str, Any]]] = None,
                  agent: Optional[str] = None) -> BotUttered:
        """Send ``text`` to the customer, then record it; raises :class:`Undeliverable`."""
        message: Dict[str, Any] = {"text": text}
        if buttons:
            message["buttons"] = buttons
        await self._send(conversation, [message], required=True)
        event = _bot(text, buttons, agent)
        await self.append(conversation.sender_id, [event])
        return event

    async def send_media(self, conversation: Conversation, media: StoredMedia, data: bytes,
                         caption: str, agent: str) -> BotUttered:
        """Send a kept file the channel's own way, then record it: WhatsApp uploads it
        to Meta (:meth:`WhatsAppOutput.send_media`); the widget and the WebSocket get
        a signed link (``MEDIA_LINK_TTL_SECONDS``). Raises :class:`Undeliverable`."""
        output = self.output_for(conversation.channel)
        if output is None:
            raise Undeliverable(f"channel {conversation.channel!r} cannot deliver "
                                "messages outside a customer's request")
        send_media = getattr(output, "send_media", None)
        if send_media is not None:
            await send_media(conversation.sender_id, media, data, caption)
        else:
            settings = media_settings()
            url = MediaLinks(settings.require_secret(), settings.public_url).url(media.id, settings.link_ttl_seconds)
            await output.send_response(conversation.sender_id, media_message(media, url, caption))
        event = BotUttered(caption, metadata={"desk_agent": agent, "media": media.as_dict()})
        await self.append(conversation.sender_id, [event])
        return event

    async def resume(self, conversation: Conversation, closing_text: str,
                     ask_csat: bool) -> None:
        """Give the conversation back to the bot: ``ConversationResumed``, the
        goodbye (and CSAT question), then ``action_listen`` so the next message
        is predicted as a fresh user turn."""
        sends: List[Dict[str, Any]] = [{"text": closing_text}]
        events: List[Event] = [ConversationResumed(), _bot(closing_text)]
        if ask_csat:
            buttons = texts.csat_buttons()
            sends.append({"text": texts.CSAT_QUESTION, "buttons": buttons})
            events += [SlotSet(DESK_SLOT, conversation.id), _bot(texts.CSAT_QUESTION, buttons)]
        if await window_closed(conversation.sender_id):
            # WhatsApp after 24 hours of silence from the customer: only an approved
            # template gets through, so the CSAT question goes as one (the goodbye cannot).
            sends = [{"custom": csat_template(conversation.customer_name)}] if ask_csat else []
        events.append(ActionExecuted("action_listen"))
        # The desk conversation is already closed: a lost resume would leave the
        # bot paused (until the next session), so try a little harder.
        for attempt in range(RESUME_ATTEMPTS):
            try:
                await self.append(conversation.sender_id, events)
                break
            except (RedisError, LockError):
                if attempt == RESUME_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.25 * (attempt + 1))
        try:
            await self._send(conversation, sends, required=False)
        except Exception:  # the bot is back either way; the customer may read it later
            logger.exception("desk: closing message to %s not delivered", conversation.id)
            record_unexpected("desk.resume")

    async def typing(self, conversation: Conversation, active: bool) -> None:
        """Show the agent typing where the channel can (web widget, WebSocket)."""
        output = self.output_for(conversation.channel)
        send_typing = getattr(output, "send_typing", None)
        if send_typing is not None:
            await send_typing(conversation.sender_id, active)


async def window_closed(sender_id: str) -> bool:
    """A WhatsApp customer whose 24-hour window has closed (other channels have none)."""
    number = whatsapp_number(sender_id)
    return bool(number) and await CustomerWindows(get_redis()).seconds_left(number) == 0


def media_message(media: StoredMedia, url: str, caption: str) -> Dict[str, Any]:
    """A file as a Rasa bot message: an image, or a ``file`` attachment with its name."""
    message: Dict[str, Any] = {"text": caption} if caption else {}
    if media.kind == "image":
        message["image"] = url
    else:
        message["attachment"] = {"type": "file", "payload": {
            "src": url, "name": media.filename, "mime": media.mime, "size": media.size}}
    return message


def csat_template(customer_name: str) -> Dict[str, Any]:
    settings = outreach_settings()
    first_name = (customer_name or "cliente").split()[0]
    return approved_templates().get(settings.csat_template).message(
        {"customer_name": first_name})


def _bot(text: str, buttons: Optional[List[Dict[str, Any]]] = None,
         agent: Optional[str] = None) -> BotUttered:
    data = {"buttons": buttons} if buttons else {}
    metadata = {"desk_agent": agent} if agent else {"desk": True}
    return BotUttered(text, data=data, metadata=metadata)
