"""``bot_uttered`` emits in the shapes the rasa-webchat widget renders."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import OutputChannel

from bot import metrics
from channels.socketio.outbound import room_of

class SocketIOOutput(OutputChannel):
    """Emits ``bot_uttered`` to the session's room, in the shapes rasa-webchat renders.

    ``emitter`` is the ``AsyncServer`` or, in a process without one, a
    write-only ``AsyncRedisManager``: both have ``emit(event, data, room=...)``.
    """

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def __init__(self, emitter: Any, bot_message_evt: Text, namespace: Optional[Text] = None,
                 typing_evt: Text = "typing"):
        self.emitter = emitter
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.typing_evt = typing_evt

    async def send_typing(self, recipient_id: Text, active: bool) -> None:
        """The typing indicator (e.g. an atendente typing on the desk)."""
        await self.emitter.emit(self.typing_evt, {"typing": bool(active)},
                                room=room_of(recipient_id), namespace=self.namespace)

    async def _send_message(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.emitter.emit(
            self.bot_message_evt, message, room=room_of(recipient_id), namespace=self.namespace
        )
        metrics.record_bot_message(self.name())

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        # One bubble per paragraph, as stock Rasa and rasa-webchat expect.
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send_message(
            recipient_id, {"attachment": {"type": "image", "payload": {"src": image}}}
        )

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        # rasa-webchat renders buttons only on a message of exactly {text, quick_replies}.
        parts = text.strip().split("\n\n") if text and text.strip() else [""]
        for part in parts[:-1]:
            await self._send_message(recipient_id, {"text": part})
        quick_replies = [
            {"content_type": "text", "title": button.get("title", ""), "payload": button.get("payload", "")}
            for button in buttons
        ]
        await self._send_message(recipient_id, {"text": parts[-1], "quick_replies": quick_replies})

    async def send_elements(
        self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        for element in elements:
            await self._send_message(
                recipient_id,
                {"attachment": {"type": "template",
                                "payload": {"template_type": "generic", "elements": element}}},
            )

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: Text, attachment: Dict[Text, Any], **kwargs: Any
    ) -> None:
        payload = attachment.get("payload") or {} if isinstance(attachment, dict) else {}
        if isinstance(attachment, dict) and attachment.get("type") == "file" and payload.get("src"):
            # rasa-webchat shows images and videos, not files: a link in a text bubble
            name = str(payload.get("name") or "arquivo").replace("[", "(").replace("]", ")")
            await self._send_message(recipient_id, {"text": f"Arquivo: [{name}]({payload['src']})"})
            return
        await self._send_message(recipient_id, {"attachment": attachment})

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        # Intact: what the bot designer wrote under `custom` is what the widget gets.
        await self._send_message(recipient_id, dict(json_message))
