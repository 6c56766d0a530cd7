"""A customer's payment receipt: kept for the action server, compared with their open invoices.

The channel reads the photo or PDF (``bot.media.vision``) and keeps the
reading here, keyed by the kept file's id; the customer's message carries only
that id (``/inform_payment_done{"payment_receipt": id}``), so the reading
survives identification (CPF, code) in between and never travels through NLU.

A receipt never marks an invoice paid: a match only lets the bot say the
payment will be recognised, offer what the customer could ask anyway (the
trust unlock, with its own rules) and open a ticket for Financeiro to check.
Amounts match within ``RECEIPT_AMOUNT_TOLERANCE_PERCENT`` of the invoice (3 %
by default: the 2 % late fine plus some days of interest), and the payment
date must be at most ``RECEIPT_MAX_AGE_DAYS`` (7) old and not in the future.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Optional, Sequence

from bot.isp.base import Invoice, InvoiceStatus
from bot.media.vision import ImageReading, Receipt
from bot.redis_pool import redis_key
from bot.settings import env_float, env_int

# Why a receipt matched no invoice (the customer is told which).
UNREADABLE, NO_INVOICE, AMOUNT, DATE = "unreadable", "no_invoice", "amount", "date"


@dataclass(frozen=True)
class ReceiptSettings:
    amount_tolerance_percent: float  # RECEIPT_AMOUNT_TOLERANCE_PERCENT
    max_age_days: int  # RECEIPT_MAX_AGE_DAYS

    @classmethod
    def from_env(cls) -> "ReceiptSettings":
        return cls(env_float("RECEIPT_AMOUNT_TOLERANCE_PERCENT", 3.0, 0.0),
                   env_int("RECEIPT_MAX_AGE_DAYS", 7, 0))


@lru_cache(maxsize=1)
def receipt_settings() -> ReceiptSettings:
    return ReceiptSettings.from_env()


@dataclass(frozen=True)
class ReceiptCheck:
    invoice: Optional[Invoice]  # the open invoice it pays
    problem: Optional[str] = None  # unreadable | no_invoice | amount | date, when no invoice


def check_receipt(receipt: Optional[Receipt], invoices: Sequence[Invoice], today: date,
                  settings: ReceiptSettings) -> ReceiptCheck:
    """The open invoice this receipt pays, or why none."""
    if receipt is None or not receipt.readable:
        return ReceiptCheck(None, UNREADABLE)
    if not invoices:
        return ReceiptCheck(None, NO_INVOICE)
    if not today - timedelta(days=settings.max_age_days) <= receipt.paid_on <= today + timedelta(days=1):
        return ReceiptCheck(None, DATE)  # an old receipt (last month's) or a date misread
    tolerance = Decimal(str(settings.amount_tolerance_percent)) / 100
    fits = [i for i in invoices
            if abs(receipt.amount - i.amount) <= max(i.amount * tolerance, Decimal("0.01"))]
    if not fits:
        return ReceiptCheck(None, AMOUNT)
    # the closest amount; overdue (the one blocking the connection) and older first on a tie
    best = min(fits, key=lambda i: (abs(receipt.amount - i.amount), i.status is not InvoiceStatus.OVERDUE,
                                    i.due_date))
    return ReceiptCheck(best)


def reading_key(media_id: str) -> str:
    return redis_key("receipt", media_id)


async def keep_reading(redis, media_id: str, reading: ImageReading, ttl_seconds: int) -> None:
    await redis.set(reading_key(media_id), json.dumps(reading.as_dict()), ex=ttl_seconds)


async def reading_of(redis, media_id: str) -> Optional[ImageReading]:
    raw = await redis.get(reading_key(media_id))
    return ImageReading.from_dict(json.loads(raw)) if raw else None
