"""What the provider wrote first to a customer, kept until they answer.

Proactive templates (outage notices, billing reminders) leave the job
worker outside any conversation. When the customer answers, the WhatsApp
connector takes what was sent since (:func:`take_pending`) and writes it into
their conversation ahead of their message: the desk's transcript shows what
they are answering, and a reminder's invoice and contract become the slots
``invoice_id`` and ``contract_id``, so "manda o pix", "ja paguei" or "libera"
act on that invoice. Keyed by the E.164 form of the number, like the window.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from bot.phones import whatsapp_e164
from bot.redis_pool import redis_key

PENDING_TTL_SECONDS = 7 * 24 * 3600  # a reply a week later still finds its reminder
MAX_PENDING = 5


def pending_key(number: str) -> str:
    return redis_key("outreach", "pending", whatsapp_e164(number))


async def remember_sent(redis, number: str, text: str, outreach: Dict[str, Any]) -> None:
    """A proactive message reached ``number``: ``text`` as the customer read it,
    ``outreach`` what it was about (campaign, template, invoice_id, contract_id...)."""
    key = pending_key(number)
    pipe = redis.pipeline(transaction=True)
    pipe.lpush(key, json.dumps({"text": text, "outreach": outreach}, ensure_ascii=False))
    pipe.ltrim(key, 0, MAX_PENDING - 1)
    pipe.expire(key, PENDING_TTL_SECONDS)
    await pipe.execute()


async def take_pending(redis, number: str) -> List[Dict[str, Any]]:
    """What was sent to ``number`` since their last message, oldest first; taken once."""
    try:
        key = pending_key(number)
    except ValueError:  # not a phone number (a test sender, another country's format)
        return []
    pipe = redis.pipeline(transaction=True)
    pipe.lrange(key, 0, -1)
    pipe.delete(key)
    raw, _ = await pipe.execute()
    return [json.loads(item) for item in reversed(raw)]
