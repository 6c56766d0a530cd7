"""Billing reminders (régua de cobrança): which invoices a day's run covers,
when a campaign may send, and what fills the reminder template.

A run for ``day`` reminds of the unpaid invoices whose due date is ``day``
minus each offset of ``REMINDER_OFFSETS_DAYS`` (-3: due in three days, 0:
due today, 7: a week late). Each invoice is checked again right before its
message goes (paid meanwhile: skipped), a customer gets at most
``OUTREACH_DAILY_CAP_PER_CUSTOMER`` reminders a day, and nothing is sent
outside ``OUTREACH_SEND_HOURS`` (the send waits for the next window).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Dict, Tuple

from bot.formatting import br_date, brl
from bot.isp.base import DueInvoice
from bot.redis_pool import redis_key

CAP_TTL_SECONDS = 3 * 24 * 3600


def due_dates(day: date, offsets: Tuple[int, ...]) -> Dict[date, int]:
    """Due date -> offset, for the invoices a run on ``day`` reminds of."""
    return {day - timedelta(days=offset): offset for offset in offsets}


def wait_for_window(now: datetime, hours: Tuple[time, time]) -> float:
    """Seconds until sending is allowed (0 inside the window); ``now`` is local time."""
    start, end = hours
    clock = now.time()
    if start <= clock < end or (end == time.max and clock >= start):
        return 0.0
    opens = datetime.combine(now.date() if clock < start else now.date() + timedelta(days=1), start, now.tzinfo)
    return (opens - now).total_seconds()


def reminder_values(due: DueInvoice, pix_code: str) -> Dict[str, str]:
    """What fills the reminder template: first name, amount, due date, PIX copy-and-paste."""
    return {"customer_name": (due.name or "cliente").split()[0], "amount": brl(due.invoice.amount)[3:],
            "due_date": br_date(due.invoice.due_date), "pix_code": pix_code}


async def within_daily_cap(redis, day: date, customer_id: str, invoice_id: str, cap: int) -> bool:
    """Count this invoice's reminder against the customer's cap for ``day``;
    False (and not counted) when the cap is reached. Idempotent per invoice."""
    key = redis_key("outreach", "cap", day.isoformat(), customer_id)
    pipe = redis.pipeline(transaction=True)
    pipe.sadd(key, invoice_id)
    pipe.scard(key)
    pipe.expire(key, CAP_TTL_SECONDS)
    added, count, _ = await pipe.execute()
    if added and count > cap:
        await redis.srem(key, invoice_id)
        return False
    return True
