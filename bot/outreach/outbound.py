"""The wire bodies of the desk's outbound WhatsApp messages (Meta's shape),
built here so the desk connector needs nothing of the WhatsApp connector's."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from bot.errors import InvalidInput
from channels.whatsapp.graph import WINDOW_CLOSED
from channels.whatsapp.wire import document_body, image_body, text_body

MAX_CAPTION = 1024
KINDS = ("text", "image", "document")

__all__ = ["WINDOW_CLOSED", "free_form"]


def free_form(kind: Any, text: str, url: str, caption: Any, filename: Any) -> Tuple[Dict[str, Any], str]:
    """(body, what the transcript shows) of a text, image or document message;
    ``text``/``url`` already checked by the caller."""
    if kind == "text":
        return text_body(text), text
    if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
        raise InvalidInput("caption", f"text of at most {MAX_CAPTION} characters")
    if kind == "image":
        body = image_body(url, caption)
    else:
        body = document_body(url, str(filename or ""))
        if caption:
            body["document"]["caption"] = caption
    return body, f"[{kind}] {caption or url}"
