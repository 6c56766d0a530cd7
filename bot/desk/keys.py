"""Names of the desk's Redis keys, all under ``<REDIS_KEY_PREFIX>:desk:``.

One place for them so every replica, the CLI and the tests agree. The prefix
is read when a store is built (tests pass their own to stay isolated).
"""
from __future__ import annotations

from typing import Optional

from bot.redis_pool import redis_key


class Keys:
    def __init__(self, prefix: Optional[str] = None):
        self.prefix = f"{prefix}:desk" if prefix else redis_key("desk")

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix,) + parts)
