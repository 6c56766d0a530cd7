"""The one error our Redis stores raise when Redis does not answer.

It subclasses Rasa's ``ConnectionException`` (the channels map it to 503 / a
non-200 for Meta's retry, see ``channels/common/turn.py``) and, for the lock store,
``LockError`` (what Rasa and the socket.io channel already expect from a lock).
"""
from __future__ import annotations

import asyncio

import redis

from rasa.core.lock_store import LockError
from rasa.shared.exceptions import ConnectionException


class StoreUnavailable(ConnectionException):
    """Redis is down, unreachable or slower than the configured timeout."""


class LockStoreUnavailable(StoreUnavailable, LockError):
    """The lock store's Redis failed: the turn must not run unlocked."""


# What "Redis does not answer" looks like from redis-py (BusyLoadingError is a
# ConnectionError; ReadOnlyError is a replica after a failover; on a cluster,
# CLUSTERDOWN / MASTERDOWN and a slot no node serves; an unreachable cluster is
# made a ConnectionError by bot.stores.connection).
UNAVAILABLE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.SlotNotCoveredError,
    OSError,
    asyncio.TimeoutError,
)
