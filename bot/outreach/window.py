"""Meta's customer service window: free-form messages only within 24 hours
of the customer's last message; after that, only approved templates.

The webhook records each inbound message's time; the desk API and the
console read what is left. Keyed by the E.164 form of the number, so the
customer's ``wa_id`` (with or without the ninth digit) and a number typed by
a supervisor find the same window."""
from __future__ import annotations

import time
from typing import Optional

from bot.phones import whatsapp_e164
from bot.redis_pool import redis_key

WINDOW_SECONDS = 24 * 3600


def window_key(number: str) -> str:
    return redis_key("wa", "window", whatsapp_e164(number))


class CustomerWindows:
    def __init__(self, redis) -> None:
        self.redis = redis

    async def opened(self, wa_id: str, at: Optional[float] = None) -> None:
        """The customer wrote at ``at``: the window runs 24 hours from then."""
        at = time.time() if at is None else at
        await self.redis.set(window_key(wa_id), f"{at:.3f}", ex=WINDOW_SECONDS)

    async def seconds_left(self, number: str, now: Optional[float] = None) -> int:
        """Whole seconds until the window closes; 0 when closed (or never opened)."""
        last = await self.redis.get(window_key(number))
        if last is None:
            return 0
        now = time.time() if now is None else now
        return max(0, int(float(last) + WINDOW_SECONDS - now))
