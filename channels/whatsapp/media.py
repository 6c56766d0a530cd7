"""A customer's WhatsApp file, fetched from Meta and checked by its bytes.

What it then becomes in the conversation (for the atendente, heard, a boleto,
a receipt...) is decided the same way on every channel by
``bot.media.understanding``. Here only what is WhatsApp's: the download
through the Graph API, which types each message kind may carry, the reply
when a file cannot be used, and, while an atendente has the conversation, a
file that could not be fetched still going in, marked, so nothing the
customer sent is lost.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, Union

from bot.errors import AppError
from bot.media import MediaFile, inspect_file, media_settings
from bot.media.files import AUDIO_TYPES, IMAGE_TYPES, RECEIVABLE
from bot.media.replies import NOT_HEARD
from bot.media.understanding import label
from channels.whatsapp.graph import GraphClient, MediaUnavailable
from channels.whatsapp.inbound import Inbound

logger = logging.getLogger(__name__)

NOT_FETCHED = "o arquivo nao pode ser baixado do WhatsApp"
NOT_OPENED = "Nao consegui abrir seu arquivo agora, desculpa. Pode me enviar de novo?"
LOOKABLE = {**IMAGE_TYPES, "application/pdf": RECEIVABLE["application/pdf"]}
BOT_READS = {"audio", "image", "document"}  # kinds the bot itself uses (others get a short reply)


def caption_of(message: Inbound) -> str:
    return str(message.media.get("caption") or "").strip()


async def download_customer_file(graph: GraphClient, message: Inbound, for_desk: bool) -> Union[MediaFile, str]:
    """The file, or the reply when the bot cannot use it: an atendente takes any type
    we keep, the bot an audio as audio and a photo or PDF as one."""
    settings = media_settings()
    allowed = RECEIVABLE if for_desk else AUDIO_TYPES if message.type == "audio" else LOOKABLE
    limits = settings.limits()
    try:
        data, _ = await graph.download_media(str(message.media["id"]), max(limits.values()))
        return inspect_file(data, str(message.media.get("filename") or ""), "media", allowed, limits)
    except MediaUnavailable as error:
        logger.warning("WhatsApp: a customer's %s was not fetched: %s", message.type, error)
        return NOT_HEARD if message.type == "audio" else NOT_OPENED
    except AppError as error:
        logger.info("WhatsApp: a customer's %s is not one the bot reads: %s", message.type, error)
        return NOT_HEARD if message.type == "audio" else message.reply()


def not_fetched(message: Inbound) -> Dict[str, Any]:
    """A file for the atendente that could not be fetched: its label, marked."""
    return {"text": label(message.type, caption_of(message), str(message.media.get("filename") or "").strip()),
            "media": {"kind": message.type, "error": NOT_FETCHED}}
