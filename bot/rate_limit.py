"""Per-session rate limit kept in Redis, so it holds across Rasa replicas.

A fixed one-minute window per key: ``INCR`` and ``EXPIRE`` run in one
MULTI/EXEC transaction, so concurrent requests on different replicas never
both get the last slot.
"""
from __future__ import annotations

import math
import time
from typing import Optional, Tuple

from bot.redis_pool import Atomic, redis_key

WINDOW_SECONDS = 60


def window_of(now: float, window: int = WINDOW_SECONDS) -> int:
    """The number of the window ``now`` falls in."""
    return int(now // window)


def retry_after(now: float, window: int = WINDOW_SECONDS) -> int:
    """Whole seconds until the current window ends (at least 1)."""
    return max(1, math.ceil(window - (now % window)))


class RateLimiter:
    """``limit`` hits per minute per key; a limit of 0 turns it off."""

    def __init__(self, redis, limit: int, scope: str):
        self.redis = redis
        self.limit = limit
        self.scope = scope

    async def count(self, key: str, now: Optional[float] = None) -> Tuple[int, int]:
        """Count one hit: (hits in this window including this one, seconds until
        the window resets), for ``X-RateLimit-*`` headers. Raises like :meth:`hit`."""
        now = time.time() if now is None else now
        name = redis_key("ratelimit", self.scope, key, str(window_of(now)))
        count, _ = await Atomic(self.redis).call("INCR", name).call("EXPIRE", name, WINDOW_SECONDS + 1).execute()
        return int(count), retry_after(now)

    async def hit(self, key: str, now: Optional[float] = None) -> Optional[int]:
        """Count one hit; ``None`` when allowed, else the seconds to wait.

        Raises ``redis.RedisError`` when Redis does not answer (callers map it
        to 503: an unchecked limit is better reported than silently skipped).
        """
        if self.limit <= 0:
            return None
        now = time.time() if now is None else now
        name = redis_key("ratelimit", self.scope, key, str(window_of(now)))
        count, _ = await Atomic(self.redis).call("INCR", name).call("EXPIRE", name, WINDOW_SECONDS + 1).execute()
        if count > self.limit:
            return retry_after(now)
        return None
