"""Names of the desk's Redis keys, all under ``<REDIS_KEY_PREFIX>:desk:``.

One place for them so every replica, the CLI and the tests agree. The prefix
is read when a store is built (tests pass their own to stay isolated).

The desk's scripts combine keys across conversations (the queue, each
conversation's hash, the agents' sets, logins), so on a Redis Cluster every
desk key carries one hash tag, ``{<prefix>:desk}:...``: the whole desk lives
in one slot, on one master. That is a few kilobytes per open conversation; a
single master holds hundreds of thousands. On a single server the names keep
their old form (no tag), so nothing needs migrating.
"""
from __future__ import annotations

from typing import Optional

from bot.redis_pool import feature_prefix
from bot.stores.settings import RedisSettings


class Keys:
    def __init__(self, prefix: Optional[str] = None, cluster: Optional[bool] = None):
        settings = RedisSettings.current()
        cluster = settings.cluster if cluster is None else cluster
        self.prefix = feature_prefix(prefix or settings.key_prefix, "desk", cluster)

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix,) + parts)
