"""De-duplication of WhatsApp deliveries: one atomic ``SET NX EX`` per message id.

Meta retries a delivery for days and may send it twice at once; the first
``SET NX`` wins on every replica. This runs *before* the webhook answers, so
it uses a synchronous client with short timeouts on purpose: the round trip
to Redis is a fraction of a millisecond, while awaiting an async reply on an
event loop busy with Rasa turns (inference is synchronous) costs a whole
extra turn slice. A Redis failure raises ``RedisError`` (the webhook then
answers 503 and Meta retries).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import redis

from bot.redis_pool import redis_key
from bot.settings import Settings

# Meta retries an unacknowledged delivery for up to 7 days.
DEDUPE_TTL_SECONDS = 7 * 24 * 3600
TIMEOUT_SECONDS = 0.5

_client: Optional[redis.Redis] = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            Settings.from_env().redis.url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            health_check_interval=30,
        )
    return _client


def first_seen(keys: Sequence[Tuple[str, str]]) -> List[bool]:
    """For each ``(kind, message id)``, whether this is its first delivery.

    One round trip for a whole delivery: either every record is written or
    the call raises, so no message is marked seen without being handled.
    """
    if not keys:
        return []
    pipe = _redis().pipeline(transaction=False)
    for kind, message_id in keys:
        pipe.set(redis_key("wa", kind, message_id), "1", nx=True, ex=DEDUPE_TTL_SECONDS)
    return [bool(result) for result in pipe.execute()]
