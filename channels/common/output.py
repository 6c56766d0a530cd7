"""Rasa bot messages as the chat API shows them, and the output channels that carry them.

One bot utterance becomes one API message ``{text?, buttons?, image?,
custom?, attachment?}``: unlike Rasa's ``CollectingOutputChannel`` we keep a
text with its buttons, image and custom payload together and do not split
paragraphs into separate messages.
"""
from __future__ import annotations

import asyncio
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import OutputChannel

from bot import metrics
from bot.outbox import Outbox

API_FIELDS = ("text", "buttons", "image", "custom", "attachment")


def api_message(message: Dict[Text, Any]) -> Dict[Text, Any]:
    """The API fields of a Rasa bot message (``quick_replies`` become ``buttons``)."""
    message = dict(message)
    if message.get("quick_replies") and not message.get("buttons"):
        message["buttons"] = message["quick_replies"]
    if message.get("elements"):
        custom = dict(message.get("custom") or {})
        custom.setdefault("elements", message["elements"])
        message["custom"] = custom
    return {key: message[key] for key in API_FIELDS if message.get(key) not in (None, "", [])}


class ApiOutputChannel(OutputChannel):
    """Base: every send_* call ends in :meth:`deliver` with one API message."""

    def __init__(self, channel: str):
        self.channel = channel

    @classmethod
    def name(cls) -> Text:
        return "api_output"

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        raise NotImplementedError

    async def _send(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        message = api_message(message)
        if message:
            await self.deliver(recipient_id, message)
            metrics.record_bot_message(self.channel)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self._send(recipient_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, {"text": text})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, {"attachment": attachment})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._send(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._send(recipient_id, {"text": text, "buttons": quick_replies})

    async def send_elements(
        self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._send(recipient_id, {"elements": list(elements)})

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        await self._send(recipient_id, {"custom": json_message})


class CollectingApiOutput(ApiOutputChannel):
    """Keeps the replies of one request (``POST /api/v1/chat``)."""

    def __init__(self, channel: str):
        super().__init__(channel)
        self.messages: List[Dict[Text, Any]] = []

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.messages.append(message)


class QueueApiOutput(ApiOutputChannel):
    """Hands each reply to a streaming response as soon as the bot produces it."""

    def __init__(self, channel: str, queue: Optional[asyncio.Queue] = None):
        super().__init__(channel)
        self.queue: asyncio.Queue = queue or asyncio.Queue()

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.queue.put(message)


class OutboxOutput(ApiOutputChannel):
    """Delivery outside a request: kept in the conversation's Redis outbox
    (read with ``?after=``) and, with ``publish``, pushed to a live connection
    on any replica. Needs nothing but the recipient id (the desk uses it)."""

    def __init__(self, channel: str, publish: bool):
        super().__init__(channel)
        self.publish = publish

    @classmethod
    def name(cls) -> Text:
        return "outbox"

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await Outbox.from_env().push(recipient_id, message, publish=self.publish)

    async def send_typing(self, recipient_id: Text, active: bool) -> None:
        """A live-only typing frame (not kept in the outbox), e.g. an atendente typing."""
        if self.publish:
            await Outbox.from_env().publish_typing(recipient_id, active)
