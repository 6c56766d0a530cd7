"""The project's Redis clients, for the rest of ``bot/`` and the channels.

The one connection factory lives in :mod:`bot.stores.connection` (the stores
must stay a self-contained package, so the factory is theirs); this module
is the import the rest of the project uses: ``get_redis()`` (bounded pool,
short timeouts), ``get_subscriber_redis()`` (pub/sub), ``redis_key(...)``
(under ``REDIS_KEY_PREFIX``), ``conversation_key(...)`` (a conversation's
key, hash-tagged on a Redis Cluster), and what works on both a server and a
cluster: ``publish``, ``subscriber_of``, ``Atomic`` (instead of MULTI).
"""
from bot.stores.connection import (
    Atomic,
    conversation_key,
    get_redis,
    get_subscriber_redis,
    is_cluster,
    publish,
    redis_key,
    redis_timeout_seconds,
    subscriber_of,
)
from bot.stores.keys import feature_prefix

__all__ = ["Atomic", "conversation_key", "feature_prefix", "get_redis", "get_subscriber_redis",
           "is_cluster", "publish", "redis_key", "redis_timeout_seconds", "subscriber_of"]
