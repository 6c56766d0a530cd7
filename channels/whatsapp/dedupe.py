"""De-duplication of WhatsApp deliveries: one atomic ``SET NX EX`` per message id.

Meta retries a delivery for days and may send it twice at once; the first
``SET NX`` wins on every replica. This runs *before* the webhook answers. The
webhook calls :func:`first_seen`: a *synchronous* round trip (a fraction
of a millisecond on the loop) through a client built like every other one
(``bot.stores.connection.StoreConfig``: server or cluster, TLS, user, key
prefix), with a short timeout. Awaiting the async client instead costs the
acknowledgement whole event-loop passes behind every ready turn slice when
the server is busy (docs/benchmarks.md). A Redis failure raises
``RedisError`` (the webhook then answers 503 and Meta retries).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, List, Optional, Sequence, Tuple

from bot.redis_pool import redis_key
from bot.stores.connection import StoreConfig
from bot.stores.settings import RedisSettings

# Meta retries an unacknowledged delivery for up to 7 days.
DEDUPE_TTL_SECONDS = 7 * 24 * 3600
# The most the synchronous call may hold the event loop when Redis hangs.
SYNC_TIMEOUT_SECONDS = 0.5
_sync_client: Optional[Any] = None


def _sync() -> Any:
    global _sync_client
    if _sync_client is None:
        settings = RedisSettings.current()
        config = StoreConfig(replace(settings, timeout_seconds=min(settings.timeout_seconds, SYNC_TIMEOUT_SECONDS)))
        _sync_client = config.sync_client()
    return _sync_client


def first_seen(keys: Sequence[Tuple[str, str]]) -> List[bool]:
    """For each ``(kind, message id)``, whether this is its first delivery.

    One synchronous round trip for a whole delivery: either every record is
    written or the call raises, so no message is marked seen without being handled.
    """
    if not keys:
        return []
    pipe = _sync().pipeline(transaction=False)
    for kind, message_id in keys:
        pipe.set(redis_key("wa", kind, message_id), "1", nx=True, ex=DEDUPE_TTL_SECONDS)
    return [bool(result) for result in pipe.execute()]
