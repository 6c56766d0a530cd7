"""What a customer's file becomes in the conversation, the same on every channel.

A connector gets the file (WhatsApp from Meta, REST and WebSocket from the
client: ``bot.media.attachments``), checks it (``bot.media.files``) and asks
:func:`understand`, with what the tracker says (:class:`ConversationState`):

- an atendente has the conversation (paused): the file is kept
  (``bot.media.store``) and goes to them as the customer's message (the
  caption or a label, the file in ``metadata.media``, a voice note with its
  transcript);
- a voice note or audio file: its words (``bot.media.transcription``) are the
  customer's message, as if typed (``metadata.transcribed``: a CPF or code
  taken from it is said back first); when it cannot be heard, one message
  asking to write instead;
- a photo or PDF, the cheapest reading first: a boleto's barcode (no network):
  ``/request_invoice{"boleto_barcode": ...}``; then the vision model
  (``bot.media.vision``): a payment receipt (or, without a reading, any file
  sent right after "ja paguei") is kept with its reading and becomes
  ``/inform_payment_done{"payment_receipt": <file id>}`` (identification, then
  ``action_payment_done`` compares it with the open invoices); a boleto whose
  barcode could not be read: ask for a sharper photo; anything else (router
  lights, a speed test): with the LLM on, the model's description and the
  caption go to the fallback's grounded answer (``/out_of_scope`` with
  ``image`` metadata); without it, to an atendente (``/request_human``) with
  the file in the transcript; but a caption NLU is sure of ("minha net ta
  lenta" under a speed test) is the message, the photo alongside;
- anything else (a video, a sticker): a short reply, no turn.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Optional

from bot.formatting import intent_payload
from bot.llm.settings import llm_settings
from bot.media.barcodes import read_boleto
from bot.media.files import MediaFile
from bot.media.replies import BOLETO_UNREADABLE, NOT_HEARD, NOT_READ, TOO_LONG
from bot.media.settings import media_settings
from bot.media.store import MediaStore, StoredMedia
from bot.media.transcription import Transcriber, TranscriptionFailed
from bot.media.vision import BOLETO, RECEIPT, ImageReading, VisionFailed, VisionReader
from bot.receipts import keep_reading
from bot.redis_pool import get_redis

logger = logging.getLogger(__name__)

PAYMENT_CLAIM_INTENT = "inform_payment_done"  # "ja paguei": the next file is the receipt
LABELS = {"image": "[imagem]", "document": "[documento]", "audio": "[audio]", "video": "[video]",
          "sticker": "[figurinha]"}
_reader: Optional[VisionReader] = None
_transcriber: Optional[Transcriber] = None


def vision_reader() -> VisionReader:
    global _reader
    if _reader is None:
        _reader = VisionReader()
    return _reader


def transcriber() -> Transcriber:
    global _transcriber
    if _transcriber is None:
        _transcriber = Transcriber()
    return _transcriber


@dataclass(frozen=True)
class ConversationState:
    """What decides where a customer's file goes (one tracker read)."""

    paused: bool = False  # an atendente has the conversation (or it waits in their queue)
    latest_intent: Optional[str] = None  # "ja paguei" before: a file now is the receipt
    # The intent NLU is sure a caption says (None: unclear): "minha net ta lenta" under a
    # speed test is that request, with the photo alongside.
    classify: Optional[Callable[[str], Awaitable[Optional[str]]]] = field(default=None, compare=False)


@dataclass
class Understood:
    """What goes into the conversation for a file, or the reply instead of a turn."""

    text: str = ""  # the message Rasa gets: words, a caption, a label or an intent payload
    metadata: Dict[str, Any] = field(default_factory=dict)  # media, transcribed, image
    reply: Optional[str] = None  # answered without a turn

    def summary(self, paused: bool) -> str:
        """What the file became, for the logs: never the customer's words."""
        if self.reply:
            return "a reply"
        if paused:
            return "a file for the atendente"
        return self.text.split("{")[0][:24] if self.text.startswith("/") else "words"


def label(kind: str, caption: str = "", filename: str = "") -> str:
    """What a file's message says: the caption, else what it carries."""
    if caption:
        return caption
    name = LABELS.get(kind, f"[{kind}]")
    return f"{name[:-1]}: {filename[:80]}]" if filename else name


async def keep(file: MediaFile) -> StoredMedia:
    return await MediaStore(get_redis(), media_settings().ttl_seconds).put(file, origin="customer")


async def understand(file: MediaFile, caption: str = "", state: ConversationState = ConversationState()
                     ) -> Understood:
    """The file as the customer's message (see the module docstring)."""
    if state.paused:
        return await for_the_desk(file, caption)
    if file.kind == "audio":
        return await heard(file)
    if file.kind == "image" or file.mime == "application/pdf":
        return await looked_at(file, caption, state)
    return Understood(reply=NOT_READ.get(file.kind, NOT_READ["document"]))


async def for_the_desk(file: MediaFile, caption: str) -> Understood:
    """Kept and shown to the atendente; a voice note with its words."""
    media = (await keep(file)).as_dict()
    named = file.filename if file.kind == "document" else ""  # a photo's or audio's name says nothing
    understood = Understood(label(file.kind, caption, named), {"media": media})
    if file.kind == "audio":
        try:
            understood.text = media["transcript"] = (await transcriber().transcribe(file)).text
            understood.metadata["transcribed"] = True
        except TranscriptionFailed:  # counted and logged; the atendente can play it
            pass
    return understood


async def heard(audio: MediaFile) -> Understood:
    try:
        transcript = await transcriber().transcribe(audio)
    except TranscriptionFailed as failure:
        limit = transcriber().settings.max_seconds
        minutes = f"{limit // 60} minutos" if limit % 60 == 0 and limit >= 120 else f"{limit} segundos"
        return Understood(reply=TOO_LONG.format(minutes=minutes) if failure.outcome == "too_long" else NOT_HEARD)
    return Understood(transcript.text, {"transcribed": True})  # actions echo it before using a CPF


async def looked_at(file: MediaFile, caption: str = "", state: ConversationState = ConversationState()
                    ) -> Understood:
    """Boleto, receipt, a request in the caption, something to describe, or a person to look at it."""
    if file.kind == "image":
        code = await asyncio.to_thread(read_boleto, file.data)
        if code:
            logger.info("media: a boleto's barcode read from a photo")
            return Understood(intent_payload("request_invoice", boleto_barcode=code))
    reading = await _read(file, caption)
    if reading is not None and reading.kind == BOLETO:
        return Understood(reply=BOLETO_UNREADABLE)
    is_receipt = reading.kind == RECEIPT if reading else state.latest_intent == PAYMENT_CLAIM_INTENT
    kept = await keep(file)
    understood = Understood(metadata={"media": kept.as_dict()})
    for key, value in (("caption", caption), ("description", reading.description if reading else "")):
        if value:
            understood.metadata["media"][key] = value
    if is_receipt:
        if reading is not None:
            await keep_reading(get_redis(), kept.id, reading, media_settings().ttl_seconds)
        understood.text = intent_payload(PAYMENT_CLAIM_INTENT, payment_receipt=kept.id)
        return understood
    understood.metadata["image"] = {"description": reading.description if reading else "", "caption": caption}
    if caption and state.classify is not None and await state.classify(caption):
        understood.text = caption  # a clear request: the bot's own path for it, the photo alongside
    elif reading is not None and reading.description and llm_settings().enabled:
        understood.text = "/out_of_scope"  # the fallback answers from the description, grounded
    else:
        understood.text = "/request_human"  # nobody can look at it but a person
    return understood


async def _read(file: MediaFile, caption: str) -> Optional[ImageReading]:
    if not vision_reader().enabled:
        return None
    try:
        return await vision_reader().read(file, caption)
    except VisionFailed:  # counted and logged by the reader; a person looks at it instead
        return None
