"""Bot messages to one WhatsApp customer, as Cloud API bodies through the Graph API.

Also what ``WhatsAppInput.get_output_channel()`` gives code that writes to a
customer outside a request (agent replies from the desk, queue positions).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.core.channels.channel import OutputChannel

from bot import senders
from bot.media import StoredMedia
from channels.whatsapp.graph import GraphClient, MediaUnavailable
from channels.whatsapp.menus import remember_menu
from channels.whatsapp.wire import (document_body, image_body, split_text, text_body, uploaded_media_body,
                                   with_buttons)

logger = logging.getLogger(__name__)


def wa_id_of(recipient_id: Text) -> Text:
    """``wa:5511987650001`` -> ``5511987650001`` (a bare number is kept)."""
    return senders.local_id(recipient_id, senders.WHATSAPP)


class WhatsAppOutput(OutputChannel):
    """Bot messages to one WhatsApp customer through the Graph API."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    def __init__(self, graph: GraphClient, phone_number_id: Text = "") -> None:
        self.graph = graph
        self.phone_number_id = phone_number_id
        self._template_sent: set = set()  # one fallback template per customer and turn

    async def _send(self, recipient_id: Text, body: Dict[str, Any]) -> None:
        to = wa_id_of(recipient_id)
        sent = await self.graph.send(to, body, self.phone_number_id)
        if sent.window_closed and to not in self._template_sent:
            self._template_sent.add(to)
            await self.graph.send_fallback_template(to, self.phone_number_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for part in split_text(text):
            await self._send(recipient_id, text_body(part))

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        bodies, menu = with_buttons(text, buttons)
        for body in bodies:
            await self._send(recipient_id, body)
        if menu:
            await remember_menu(wa_id_of(recipient_id), menu)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, image_body(image))

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        url = attachment if isinstance(attachment, str) else (attachment or {}).get("url", "")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            await self._send(recipient_id, document_body(url))
        else:
            await self.send_text_message(recipient_id, str(attachment))

    async def send_media(self, recipient_id: Text, media: StoredMedia, data: bytes, caption: Text = "") -> None:
        """A file from the desk, uploaded to Meta and sent by its media id (Meta never
        has to reach our server); raises :class:`MediaUnavailable` when Meta refuses it."""
        media_id = await self.graph.upload_media(data, media.mime, media.filename, self.phone_number_id)
        sent = await self.graph.send(wa_id_of(recipient_id),
                                     uploaded_media_body(media.kind, media_id, caption, media.filename),
                                     self.phone_number_id)
        if sent.error_code is not None or not sent.message_id:
            raise MediaUnavailable(f"the {media.kind} was not sent (code {sent.error_code})")

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A Cloud API message body (``{"type": "template", ...}``), sent as is.

        ``{"whatsapp": {...}}`` selects a body meant for this channel only.
        """
        body = json_message.get("whatsapp", json_message) if isinstance(json_message, dict) else None
        if not isinstance(body, dict) or not body.get("type"):
            logger.warning("WhatsApp: custom payload without a 'type' not sent")
            return
        await self._send(recipient_id, body)
