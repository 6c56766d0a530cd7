"""WhatsApp Cloud API webhook notifications as plain records (pure functions).

One notification may carry several entries, changes, messages and statuses;
:func:`parse_notification` flattens them so the connector handles each one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

from bot.errors import MalformedRequest
from bot.media.replies import NOT_READ
from bot.phones import whatsapp_e164

# Types whose content Rasa can read: their text (or button payload).
READABLE = {"text", "interactive", "button"}

# Replies to what the bot cannot read, sent without bothering NLU.
MEDIA_REPLIES = {
    "audio": "Ainda nao consigo ouvir audios. Pode me escrever o que voce precisa?",
    "voice": "Ainda nao consigo ouvir audios. Pode me escrever o que voce precisa?",
    "image": ("Recebi sua imagem, mas nao consegui abrir esse formato. Pode mandar como foto normal ou me "
              "escrever o que voce precisa?"),
    **NOT_READ,  # document, video, sticker: the same words on every channel
    "location": (
        "Recebi sua localizacao, obrigado! Se for para mudanca de endereco ou visita tecnica, "
        "me escreve o endereco completo (rua, numero e bairro)."
    ),
    "contacts": "Recebi o contato, mas por aqui so consigo ler mensagens escritas. Como posso te ajudar?",
    "reaction": "Recebi sua reacao! Se precisar de algo, e so escrever.",
}
UNSUPPORTED_REPLY = "Nao consegui abrir esse tipo de mensagem. Pode me escrever em texto?"


class InvalidNotification(MalformedRequest, ValueError):
    """The notification is not shaped like Meta's (HTTP 400); the message names the field."""


@dataclass(frozen=True)
class Inbound:
    """One customer message."""

    message_id: str
    wa_id: str
    type: str
    phone_number_id: str = ""
    profile_name: str = ""
    text: str = ""  # text body, or the payload of a button / list row / template button
    media: Dict[str, Any] = field(default_factory=dict)  # id, mime_type, filename, caption

    @property
    def number(self) -> str:
        """The sender as ``+`` E.164: Meta's ``wa_id`` always has the country code, so
        a foreign 11-digit id is not read as a Brazilian number typed without one."""
        return "+" + self.wa_id

    @property
    def readable(self) -> bool:
        """Rasa can take it as a user message (has text or a payload)."""
        return self.type in READABLE and bool(self.text)

    @property
    def is_reaction_removal(self) -> bool:
        return self.type == "reaction" and not self.media.get("emoji")

    def reply(self) -> str:
        """What the bot answers to a message it cannot read."""
        return MEDIA_REPLIES.get(self.type, UNSUPPORTED_REPLY)


@dataclass(frozen=True)
class Status:
    """Delivery status of a message the bot sent (sent, delivered, read, failed)."""

    message_id: str
    status: str
    recipient_id: str
    phone_number_id: str = ""
    error_codes: tuple = ()


@dataclass
class Notification:
    messages: List[Inbound] = field(default_factory=list)
    statuses: List[Status] = field(default_factory=list)
    # What was dropped or ignored because Meta's objects were not objects
    # (the connector logs it and still acknowledges: Meta retries failures for days).
    dropped: List[str] = field(default_factory=list)


def _dict(value: Any, name: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidNotification(f"{name} must be an object")
    return value


def _list(value: Any, name: str) -> List[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidNotification(f"{name} must be a list")
    return value


def _object(parent: Dict[str, Any], key: str, where: str) -> Dict[str, Any]:
    """``parent[key]`` when it is an object, ``{}`` when absent; anything else is malformed."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidNotification(f"{where}.{key} must be an object, got {type(value).__name__}")
    return value


def _content(message: Dict[str, Any], where: str = "message") -> tuple[str, str, Dict[str, Any]]:
    """(type, text or payload, media details) of one message."""
    kind = str(message.get("type") or "unsupported")
    if kind == "text":
        return kind, str(_object(message, "text", where).get("body") or ""), {}
    if kind == "interactive":
        interactive = _object(message, "interactive", where)
        reply = (_object(interactive, "button_reply", f"{where}.interactive")
                 or _object(interactive, "list_reply", f"{where}.interactive"))
        if not reply.get("id"):
            return "unsupported", "", {}
        return kind, str(reply["id"]), {}
    if kind == "button":  # quick reply of a template message
        button = _object(message, "button", where)
        return kind, str(button.get("payload") or button.get("text") or ""), {}
    if kind in ("image", "document", "audio", "video", "sticker", "voice"):
        media = _object(message, kind, where)
        keep = ("id", "mime_type", "filename", "caption", "sha256")
        return kind, "", {k: media[k] for k in keep if media.get(k)}
    if kind == "reaction":
        reaction = _object(message, "reaction", where)
        return kind, "", {"emoji": str(reaction.get("emoji") or ""), "message_id": str(reaction.get("message_id") or "")}
    if kind in ("location", "contacts"):
        return kind, "", {}
    return "unsupported", "", {}


def parse_notification(payload: Any) -> Notification:
    """Every message and status of a webhook POST body, in order."""
    payload = _dict(payload, "body")
    result = Notification()
    for e, entry in enumerate(_list(payload.get("entry"), "entry")):
        entry = _dict(entry, f"entry[{e}]")
        for c, change in enumerate(_list(entry.get("changes"), f"entry[{e}].changes")):
            where = f"entry[{e}].changes[{c}].value"
            value = _dict(_dict(change, f"entry[{e}].changes[{c}]").get("value") or {}, where)
            try:
                phone_number_id = str(_object(value, "metadata", where).get("phone_number_id") or "")
            except InvalidNotification as error:  # the default number answers instead
                result.dropped.append(f"{error} (ignored)")
                phone_number_id = ""
            names = {}
            for n, contact in enumerate(_list(value.get("contacts"), f"{where}.contacts")):
                if not isinstance(contact, dict):
                    result.dropped.append(f"{where}.contacts[{n}] must be an object (ignored)")
                    continue
                try:
                    names[str(contact.get("wa_id"))] = str(
                        _object(contact, "profile", f"{where}.contacts[{n}]").get("name") or "")
                except InvalidNotification as error:  # the name is only a courtesy
                    result.dropped.append(f"{error} (ignored)")
            for m, message in enumerate(_list(value.get("messages"), f"{where}.messages")):
                message = _dict(message, f"{where}.messages[{m}]")
                wa_id, message_id = str(message.get("from") or ""), str(message.get("id") or "")
                if not wa_id or not message_id:
                    raise InvalidNotification(f"{where}.messages[{m}] needs 'from' and 'id'")
                try:
                    whatsapp_e164("+" + wa_id)
                except ValueError as error:  # nobody to answer: Meta's ids are phone numbers
                    result.dropped.append(f"{where}.messages[{m}].from {error} (message dropped)")
                    continue
                try:
                    kind, text, media = _content(message, f"{where}.messages[{m}]")
                except InvalidNotification as error:
                    result.dropped.append(f"{error} (message dropped)")
                    continue
                result.messages.append(
                    Inbound(message_id, wa_id, kind, phone_number_id, names.get(wa_id, ""), text, media)
                )
            for s, status in enumerate(_list(value.get("statuses"), f"{where}.statuses")):
                status = _dict(status, f"{where}.statuses[{s}]")
                codes = tuple(
                    error.get("code") for error in _list(status.get("errors"), f"{where}.statuses[{s}].errors")
                    if isinstance(error, dict)
                )
                result.statuses.append(
                    Status(str(status.get("id") or ""), str(status.get("status") or ""),
                           str(status.get("recipient_id") or ""), phone_number_id, codes)
                )
    return result
