"""Pushing to a socket.io session from anywhere: the room naming and the Redis manager.

Sanic-free on purpose (``bot/`` and ``actions/`` may import it, see
docs/architecture.md): the action server streams partial LLM answers
through it, and the connector's output channel uses the same manager to
reach a session held by any replica.

Every socket of a session is in the room ``web:<session_id>``, which is also
its Rasa sender id. Emits go through python-socketio's ``AsyncRedisManager``
on the channel ``<prefix>:socketio`` of the project's Redis.
"""
from __future__ import annotations

from typing import Any, Optional

from redis import asyncio as aioredis
from socketio import AsyncRedisManager

from bot import senders
from bot.redis_pool import redis_key, redis_timeout_seconds
from bot.settings import Settings

# Redis connections for publishing emits (plus one for listening), per process.
REDIS_PUBLISH_CONNECTIONS = 16


def room_of(recipient_id: str) -> str:
    """The room (and Rasa sender id) of a session: ``web:<session_id>``.

    Accepts the sender id (what Rasa and the desk pass) or a bare session id.
    """
    return senders.sender_id(senders.WEB, recipient_id)


class BoundedRedisManager(AsyncRedisManager):
    """``AsyncRedisManager`` whose emits share a few Redis connections.

    Upstream's pool opens one connection per concurrent emit: 5,000 widgets
    answered at once opened 4,000+ connections, whose connect timed out while
    the event loop was busy with the turns, and the replies were lost
    ("Cannot publish to redis... giving up"). Here an emit waits, without a
    deadline, for one of a few connections; a dead Redis still fails fast at
    connect (``socket_connect_timeout``).
    """

    def _redis_connect(self) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            self.redis_url, max_connections=REDIS_PUBLISH_CONNECTIONS + 1, timeout=None,
            **self.redis_options,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def redis_manager(write_only: bool = False) -> BoundedRedisManager:
    """A manager on the project's Redis (same URL and key prefix as everything else)."""
    return BoundedRedisManager(
        Settings.from_env().redis.url,
        channel=redis_key("socketio"),
        write_only=write_only,
        redis_options={"socket_connect_timeout": redis_timeout_seconds(), "health_check_interval": 30},
    )


_write_only: Optional[BoundedRedisManager] = None


def publisher() -> BoundedRedisManager:
    """This process's write-only manager (for processes without a socket.io server)."""
    global _write_only
    if _write_only is None:
        _write_only = redis_manager(write_only=True)
    return _write_only


async def emit_to_session(event: str, data: Any, recipient_id: str, namespace: str = "/") -> None:
    """Emit ``event`` to every socket of the session of ``recipient_id``, on any replica."""
    await publisher().emit(event, data, room=room_of(recipient_id), namespace=namespace)
