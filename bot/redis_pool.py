"""One async Redis client per process and event loop, from the settings.

Channels (de-duplication, delivered messages, rate limits) and the desk share
it. Timeouts are short on purpose: a slow Redis must become a clear error
(503 / retry), never a hung request.
"""
from __future__ import annotations

import asyncio
import os
from typing import Dict, Optional

from redis import asyncio as aioredis

from bot.settings import Settings, env_float, env_int

_clients: Dict[int, aioredis.Redis] = {}


def redis_timeout_seconds() -> float:
    return env_float("REDIS_TIMEOUT_SECONDS", 2.0, 0.01)


def get_redis(settings: Optional[Settings] = None) -> aioredis.Redis:
    """The shared client for the running event loop (Sanic workers each have one)."""
    loop_id = id(asyncio.get_event_loop())
    client = _clients.get(loop_id)
    if client is None:
        settings = settings or Settings.from_env()
        # A bounded pool that *waits* for a free connection: a burst of thousands
        # of turns must queue for Redis, not fail with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis.url,
            max_connections=env_int("REDIS_MAX_CONNECTIONS", 64, 1),
            timeout=redis_timeout_seconds(),
            decode_responses=True,
            socket_timeout=redis_timeout_seconds(),
            socket_connect_timeout=redis_timeout_seconds(),
            health_check_interval=30,
        )
        client = aioredis.Redis(connection_pool=pool)
        _clients[loop_id] = client
    return client


_subscribers: Dict[int, aioredis.Redis] = {}


def get_subscriber_redis(settings: Optional[Settings] = None) -> aioredis.Redis:
    """A client for long-lived pub/sub subscriptions (one connection each).

    Kept apart from :func:`get_redis`'s bounded pool, so a thousand open
    WebSockets or desk consoles cannot take every connection the turns need.
    """
    loop_id = id(asyncio.get_event_loop())
    client = _subscribers.get(loop_id)
    if client is None:
        settings = settings or Settings.from_env()
        client = aioredis.Redis.from_url(
            settings.redis.url,
            decode_responses=True,
            socket_connect_timeout=redis_timeout_seconds(),
            health_check_interval=30,
        )
        _subscribers[loop_id] = client
    return client


def redis_key(*parts: str) -> str:
    """A key under the configured prefix, e.g. ``isp:wa:dedupe:<wamid>``."""
    prefix = os.environ.get("REDIS_KEY_PREFIX", "isp")
    return ":".join((prefix,) + tuple(parts))
