"""A customer's WhatsApp file, fetched from Meta and kept for the desk.

While an atendente has the conversation (the bot is paused), a photo, a PDF,
a voice note or a video is the customer talking to them: it is downloaded
through the Graph API, checked by its bytes and kept (``bot.media``), and
goes into the conversation as the customer's message (the caption, or a
label such as ``[imagem]``) with the file in its metadata, which the desk
shows with a preview. A file that cannot be fetched still goes in, marked,
so nothing the customer sent is lost.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Tuple

from bot.errors import AppError
from bot.media import MediaStore, inspect_file, media_settings
from bot.media.files import RECEIVABLE
from bot.redis_pool import get_redis
from channels.whatsapp.graph import GraphClient, MediaUnavailable
from channels.whatsapp.inbound import Inbound

logger = logging.getLogger(__name__)

LABELS = {"image": "[imagem]", "document": "[documento]", "audio": "[audio]", "video": "[video]",
          "sticker": "[figurinha]"}
NOT_FETCHED = "o arquivo nao pode ser baixado do WhatsApp"


def label_of(message: Inbound) -> str:
    """What the customer's message says: the caption, else what it carries."""
    caption = str(message.media.get("caption") or "").strip()
    if caption:
        return caption
    label = LABELS.get(message.type, f"[{message.type}]")
    filename = str(message.media.get("filename") or "").strip()
    return f"{label[:-1]}: {filename[:80]}]" if filename else label


async def keep_customer_media(graph: GraphClient, message: Inbound) -> Tuple[str, Dict[str, Any]]:
    """(text, media metadata) of a customer's file for the conversation."""
    settings = media_settings()
    limits = {kind: settings.max_bytes(kind) for kind in ("image", "document", "audio", "video", "sticker")}
    try:
        data, _ = await graph.download_media(str(message.media["id"]), max(limits.values()))
        file = inspect_file(data, str(message.media.get("filename") or ""), "media", RECEIVABLE, limits)
        stored = await MediaStore(get_redis(), settings.ttl_seconds).put(file, origin="customer")
    except (MediaUnavailable, AppError) as error:
        logger.warning("WhatsApp: a customer's %s was not kept: %s", message.type, error)
        return label_of(message), {"kind": message.type, "error": NOT_FETCHED}
    return label_of(message), stored.as_dict()
