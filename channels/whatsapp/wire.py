"""Bot messages as WhatsApp Cloud API message bodies (pure functions).

WhatsApp has hard limits that Rasa responses do not know about: 4,096
characters of text, 3 reply buttons of 20 characters, lists of 10 rows of
24 characters. Choices that fit nowhere become a numbered text menu; the
customer answers with the number and :func:`menu_choice` maps it back.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
MAX_BUTTONS = 3
BUTTON_TITLE_LIMIT = 20
BUTTON_ID_LIMIT = 256
MAX_LIST_ROWS = 10
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
ROW_ID_LIMIT = 200
LIST_BUTTON_LABEL = "Ver opcoes"
MENU_HINT = "Responda com o numero da opcao."
CHOOSE_TEXT = "Escolha uma opcao:"

Body = Dict[str, Any]


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, with an ellipsis when cut."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def split_text(text: str, limit: int = TEXT_LIMIT) -> List[str]:
    """Parts of at most ``limit`` characters, cut at a line, else a word, boundary."""
    parts: List[str] = []
    rest = (text or "").strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        at = window.rfind("\n")
        if at <= 0:
            at = max(window.rfind(" "), window.rfind("\t"))
        if at <= 0:
            at = limit  # one huge word: cut it
        parts.append(rest[:at].rstrip())
        rest = rest[at:].strip()
    if rest:
        parts.append(rest)
    return parts


def text_body(text: str) -> Body:
    return {"type": "text", "text": {"preview_url": False, "body": text}}


def image_body(url: str, caption: str = "") -> Body:
    image: Dict[str, str] = {"link": url}
    if caption:
        image["caption"] = caption
    return {"type": "image", "image": image}


def document_body(url: str, filename: str = "") -> Body:
    document: Dict[str, str] = {"link": url}
    if filename:
        document["filename"] = filename
    return {"type": "document", "document": document}


def uploaded_media_body(kind: str, media_id: str, caption: str = "", filename: str = "") -> Body:
    """An image or document uploaded to Meta (``POST /media``), sent by its id."""
    media: Dict[str, str] = {"id": media_id}
    if caption:
        media["caption"] = caption[:1024]  # Meta's caption limit
    if filename and kind == "document":
        media["filename"] = filename
    return {"type": kind, kind: media}


def template_body(name: str, language: str) -> Body:
    return {"type": "template", "template": {"name": name, "language": {"code": language}}}


def read_receipt(message_id: str) -> Body:
    """Marks the customer's message as read (blue ticks)."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def _payloads(buttons: Sequence[Dict[str, Any]]) -> List[str]:
    return [str(b.get("payload") or b.get("title") or "") for b in buttons]


def _titles(buttons: Sequence[Dict[str, Any]]) -> List[str]:
    return [str(b.get("title") or b.get("payload") or "") for b in buttons]


def _fits(ids: List[str], id_limit: int) -> bool:
    """WhatsApp rejects empty, duplicate or too long ids."""
    return all(0 < len(i) <= id_limit for i in ids) and len(set(ids)) == len(ids)


def reply_buttons(body: str, buttons: Sequence[Dict[str, Any]]) -> Optional[Body]:
    """Interactive reply buttons (up to 3), or None when they do not fit."""
    ids = _payloads(buttons)
    titles = [cut(t, BUTTON_TITLE_LIMIT) for t in _titles(buttons)]
    if not 0 < len(buttons) <= MAX_BUTTONS or not _fits(ids, BUTTON_ID_LIMIT):
        return None
    if len(set(titles)) < len(titles):  # equal button titles are rejected too
        return None
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": i, "title": t}} for i, t in zip(ids, titles)
                ]
            },
        },
    }


def list_message(body: str, buttons: Sequence[Dict[str, Any]]) -> Optional[Body]:
    """An interactive list (up to 10 rows), or None when it does not fit.

    A title longer than a row allows goes whole into the row's description.
    """
    ids = _payloads(buttons)
    full = _titles(buttons)
    titles = [cut(t, ROW_TITLE_LIMIT) for t in full]
    if not 0 < len(buttons) <= MAX_LIST_ROWS or not _fits(ids, ROW_ID_LIMIT):
        return None
    rows = []
    for row_id, title, whole in zip(ids, titles, full):
        row = {"id": row_id, "title": title}
        if title != " ".join(whole.split()):
            row["description"] = cut(whole, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"title": "Opcoes", "rows": rows}]},
        },
    }


def numbered_menu(text: str, buttons: Sequence[Dict[str, Any]]) -> str:
    """The choices as a numbered list under the text (answered by number)."""
    lines = [f"{n}. {title}" for n, title in enumerate(_titles(buttons), start=1)]
    return "\n".join(filter(None, [text.strip(), "\n".join(lines), MENU_HINT])).strip()


def with_buttons(text: str, buttons: Sequence[Dict[str, Any]]) -> tuple[List[Body], List[str]]:
    """Message bodies for a text with choices, and the menu to remember.

    Reply buttons when they fit, else a list, else numbered text; the second
    value is the payloads in menu order when a numbered menu was used (else
    empty). A text too long for an interactive body goes first on its own.
    """
    text = (text or "").strip()
    bodies: List[Body] = []
    body = text
    if not body or len(body) > INTERACTIVE_BODY_LIMIT:
        bodies += [text_body(part) for part in split_text(text)]
        body = CHOOSE_TEXT
    interactive = reply_buttons(body, buttons) or list_message(body, buttons)
    if interactive:
        return bodies + [interactive], []
    menu = numbered_menu(text, buttons)
    return [text_body(part) for part in split_text(menu)], _payloads(buttons)


def menu_choice(text: str, menu: Sequence[str]) -> Optional[str]:
    """The payload a customer picked by typing its number ("2", "2.", " 2 ")."""
    match = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text or "")
    if not match or not menu:
        return None
    index = int(match.group(1))
    return menu[index - 1] if 1 <= index <= len(menu) else None
