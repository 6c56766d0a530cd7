"""Names of the desk's Redis keys, all under ``<REDIS_KEY_PREFIX>:desk:``.

One place for them so every replica, the CLI and the tests agree. The prefix
is read when a store is built (tests pass their own to stay isolated).
"""
from __future__ import annotations

import os
from typing import Optional


class Keys:
    def __init__(self, prefix: Optional[str] = None):
        self.prefix = (prefix or os.environ.get("REDIS_KEY_PREFIX") or "isp") + ":desk"

    def __call__(self, *parts: str) -> str:
        return ":".join((self.prefix,) + parts)
