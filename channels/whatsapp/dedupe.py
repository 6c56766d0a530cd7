"""De-duplication of WhatsApp deliveries: one atomic ``SET NX EX`` per message id.

Meta retries a delivery for days and may send it twice at once; the first
``SET NX`` wins on every replica. This runs *before* the webhook answers,
through the process's shared Redis client (``bot.redis_pool``: its pool,
timeouts and key prefix). A Redis failure raises ``RedisError`` (the webhook
then answers 503 and Meta retries). docs/benchmarks.md has what an awaited
call costs the acknowledgement on a busy event loop.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from bot.redis_pool import get_redis, redis_key

# Meta retries an unacknowledged delivery for up to 7 days.
DEDUPE_TTL_SECONDS = 7 * 24 * 3600


async def first_seen(keys: Sequence[Tuple[str, str]], redis: Optional[Any] = None) -> List[bool]:
    """For each ``(kind, message id)``, whether this is its first delivery.

    One round trip for a whole delivery: either every record is written or
    the call raises, so no message is marked seen without being handled.
    ``redis`` defaults to the shared client.
    """
    if not keys:
        return []
    pipe = (redis or get_redis()).pipeline(transaction=False)
    for kind, message_id in keys:
        pipe.set(redis_key("wa", kind, message_id), "1", nx=True, ex=DEDUPE_TTL_SECONDS)
    return [bool(result) for result in await pipe.execute()]
