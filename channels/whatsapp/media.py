"""A customer's WhatsApp file: fetched from Meta, checked, kept for the desk, heard.

While an atendente has the conversation (the bot is paused), a photo, a PDF,
a voice note or a video is the customer talking to them: it is downloaded
through the Graph API, checked by its bytes and kept (``bot.media``), and
goes into the conversation as the customer's message (the caption, or a
label such as ``[imagem]``) with the file in its metadata, which the desk
shows with a preview. A file that cannot be fetched still goes in, marked,
so nothing the customer sent is lost.

A voice note is also transcribed (``bot.media.transcription``), for the bot
and the desk alike: its words are the customer's message, as if typed. When
it cannot be heard (no key, too long, the service failing) the bot asks the
customer to write instead; the desk still gets the audio. A photo of a boleto
or a PDF outside a conversation with an atendente goes to
``bot.media.understanding``: a boleto, a payment receipt, or something to
describe or show a person.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Union

from bot.errors import AppError
from bot.media import MediaFile, MediaStore, inspect_file, media_settings
from bot.media.files import AUDIO_TYPES, IMAGE_TYPES, RECEIVABLE
from bot.media.transcription import Transcriber, TranscriptionFailed
from bot.redis_pool import get_redis
from channels.whatsapp.graph import GraphClient, MediaUnavailable
from channels.whatsapp.inbound import Inbound

logger = logging.getLogger(__name__)

LABELS = {"image": "[imagem]", "document": "[documento]", "audio": "[audio]", "video": "[video]",
          "sticker": "[figurinha]"}
NOT_FETCHED = "o arquivo nao pode ser baixado do WhatsApp"
NOT_OPENED = "Nao consegui abrir seu arquivo agora, desculpa. Pode me enviar de novo?"
NOT_HEARD = "Nao consegui ouvir seu audio agora, desculpa. Pode me escrever o que voce precisa?"
TOO_LONG = ("Seu audio passou de {minutes} de duracao e nao consegui ouvir. Pode me mandar um audio mais "
            "curto ou escrever o que voce precisa?")
LOOKABLE = {**IMAGE_TYPES, "application/pdf": RECEIVABLE["application/pdf"]}
_transcriber: Optional[Transcriber] = None


@dataclass
class CustomerFile:
    """What a customer's file puts into the conversation."""

    text: str  # the words of a voice note, else the caption or a label
    media: Dict[str, Any] = field(default_factory=dict)  # kept file (or kind + error)
    transcribed: bool = False
    problem: Optional[str] = None  # for the customer when the bot cannot use the file


def label_of(message: Inbound) -> str:
    """What the customer's message says: the caption, else what it carries."""
    caption = str(message.media.get("caption") or "").strip()
    if caption:
        return caption
    label = LABELS.get(message.type, f"[{message.type}]")
    filename = str(message.media.get("filename") or "").strip()
    return f"{label[:-1]}: {filename[:80]}]" if filename else label


def transcriber() -> Transcriber:
    global _transcriber
    if _transcriber is None:
        _transcriber = Transcriber()
    return _transcriber


async def take_customer_file(graph: GraphClient, message: Inbound, keep: bool) -> CustomerFile:
    """Fetch and check the file; keep it for the desk (``keep``); hear a voice note."""
    settings = media_settings()
    allowed = AUDIO_TYPES if message.type == "audio" else RECEIVABLE
    limits = {kind: settings.max_bytes(kind) for kind in ("image", "document", "audio", "video", "sticker")}
    taken = CustomerFile(label_of(message))
    try:
        data, _ = await graph.download_media(str(message.media["id"]), max(limits.values()))
        file = inspect_file(data, str(message.media.get("filename") or ""), "media", allowed, limits)
    except (MediaUnavailable, AppError) as error:
        logger.warning("WhatsApp: a customer's %s was not fetched: %s", message.type, error)
        taken.media, taken.problem = {"kind": message.type, "error": NOT_FETCHED}, NOT_HEARD
        return taken
    if keep:
        taken.media = (await MediaStore(get_redis(), settings.ttl_seconds).put(file, origin="customer")).as_dict()
    if file.kind == "audio":
        await _hear(file, taken)
    return taken


async def _hear(audio: MediaFile, taken: CustomerFile) -> None:
    try:
        transcript = await transcriber().transcribe(audio)
    except TranscriptionFailed as failure:
        limit = transcriber().settings.max_seconds
        minutes = f"{limit // 60} minutos" if limit % 60 == 0 and limit >= 120 else f"{limit} segundos"
        taken.problem = TOO_LONG.format(minutes=minutes) if failure.outcome == "too_long" else NOT_HEARD
        return
    taken.text, taken.transcribed = transcript.text, True
    if taken.media:
        taken.media["transcript"] = transcript.text


async def fetch_customer_file(graph: GraphClient, message: Inbound) -> Union[MediaFile, str]:
    """A customer's photo or PDF for the bot to look at, or the reply when it cannot:
    not fetched from Meta (send it again), or not a JPEG, PNG or PDF within the limits."""
    settings = media_settings()
    try:
        data, _ = await graph.download_media(str(message.media["id"]), settings.max_file_bytes)
    except MediaUnavailable as error:
        logger.warning("WhatsApp: a customer's %s was not fetched: %s", message.type, error)
        return NOT_OPENED
    try:
        return inspect_file(data, str(message.media.get("filename") or ""), "media", LOOKABLE,
                            {"image": settings.max_image_bytes, "document": settings.max_file_bytes})
    except AppError as error:
        logger.info("WhatsApp: a customer's %s is not one the bot reads: %s", message.type, error)
        return message.reply()
