"""The project's Redis clients, for the rest of ``bot/`` and the channels.

The one connection factory lives in :mod:`bot.stores.connection` (the stores
must stay a self-contained package, so the factory is theirs); this module
is the import the rest of the project uses: ``get_redis()`` (bounded pool,
short timeouts), ``get_subscriber_redis()`` (pub/sub), ``redis_key(...)``
(under ``REDIS_KEY_PREFIX``).
"""
from bot.stores.connection import get_redis, get_subscriber_redis, redis_key, redis_timeout_seconds

__all__ = ["get_redis", "get_subscriber_redis", "redis_key", "redis_timeout_seconds"]
