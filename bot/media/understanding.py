"""What a customer's photo or PDF means to the bot (channel-neutral).

In order, the cheapest first:

1. a photo with a boleto's barcode (``bot.media.barcodes``, no network):
   that invoice, ``/request_invoice{"boleto_barcode": ...}``;
2. the vision model (``bot.media.vision``) says what it is:
   a payment receipt (or, without a reading, any file sent right after "ja
   paguei") is kept with its reading and becomes
   ``/inform_payment_done{"payment_receipt": <file id>}``: identification,
   then ``action_payment_done`` compares it with the open invoices;
   a boleto whose barcode could not be read: ask for a sharper photo;
3. anything else (router lights, a speed test): with the LLM on, the model's
   description and the caption go to the fallback's grounded answer
   (``/out_of_scope`` with ``image`` metadata); without it, to an atendente
   (``/request_human``) with the file in the transcript.

The file is kept (``bot.media.store``) whenever it goes into the
conversation, so the desk shows it.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from bot.formatting import intent_payload
from bot.llm.settings import llm_settings
from bot.media.barcodes import read_boleto
from bot.media.files import MediaFile
from bot.media.settings import media_settings
from bot.media.store import MediaStore
from bot.media.vision import BOLETO, RECEIPT, ImageReading, VisionFailed, VisionReader
from bot.receipts import keep_reading
from bot.redis_pool import get_redis

logger = logging.getLogger(__name__)

PAYMENT_CLAIM_INTENT = "inform_payment_done"  # "ja paguei": the next file is the receipt
BOLETO_UNREADABLE = ("Recebi a foto do boleto, mas nao consegui ler o codigo de barras. Manda uma foto nitida "
                     "do codigo de barras, de frente e sem reflexo, ou me pede a 2a via.")
_reader: Optional[VisionReader] = None


def vision_reader() -> VisionReader:
    global _reader
    if _reader is None:
        _reader = VisionReader()
    return _reader


@dataclass
class Understood:
    """What goes into the conversation for a file, or the reply instead of a turn."""

    text: str = ""  # the message Rasa gets (an intent payload)
    metadata: Dict[str, Any] = field(default_factory=dict)  # media (kept file), image (description, caption)
    reply: Optional[str] = None  # answered without a turn


async def understand_file(file: MediaFile, caption: str = "", latest_intent: Optional[str] = None) -> Understood:
    """Boleto, receipt, something to describe, or a person to look at it."""
    if file.kind == "image":
        code = await asyncio.to_thread(read_boleto, file.data)
        if code:
            logger.info("media: a boleto's barcode read from a photo")
            return Understood(intent_payload("request_invoice", boleto_barcode=code))
    reading = await _read(file, caption)
    if reading is not None and reading.kind == BOLETO:
        return Understood(reply=BOLETO_UNREADABLE)
    is_receipt = reading.kind == RECEIPT if reading else latest_intent == PAYMENT_CLAIM_INTENT
    kept = await MediaStore(get_redis(), media_settings().ttl_seconds).put(file, origin="customer")
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
    if reading is not None and reading.description and llm_settings().enabled:
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
