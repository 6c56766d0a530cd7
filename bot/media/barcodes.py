"""A boleto's barcode read from a customer's photo (``zxing-cpp``).

zxing-cpp (PyPI wheels of the C++ ZXing library, nothing else to install)
reads the boleto's Interleaved 2 of 5 barcode from a photo, rotated or not;
no network model is needed for a barcode. A read counts only if the boleto's
own check digits hold (``bot.boleto``), so a partial read is never taken for
another boleto. CPU-bound: callers run it in a thread.
"""
from __future__ import annotations

import io
import logging
from typing import Optional

import zxingcpp
from PIL import Image, UnidentifiedImageError

from bot.boleto import barcode_digits

logger = logging.getLogger(__name__)

MAX_PIXELS = 4000 * 4000  # a phone photo; bigger is scaled down before reading


def read_boleto(image: bytes) -> Optional[str]:
    """The 44-digit barcode of the boleto in the photo, or None."""
    try:
        picture = Image.open(io.BytesIO(image))
        picture.draft("L", (2000, 2000))  # JPEG: decode at a smaller size when it is huge
        picture = picture.convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        logger.info("boleto: image not readable (%s)", type(error).__name__)
        return None
    if picture.width * picture.height > MAX_PIXELS:
        picture.thumbnail((2000, 2000))
    for found in zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.ITF):
        code = barcode_digits(found.text)
        if code:
            return code
    return None
