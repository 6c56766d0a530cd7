"""The one Redis connection factory: clients, pools, timeouts and the key prefix.

Everything in the project that talks to Redis gets its client here, either
through the stores (``StoreConfig`` + ``LoopClients``, built from the
``tracker_store:`` / ``lock_store:`` keys of ``endpoints.yml``) or through
:func:`get_redis` / :func:`get_subscriber_redis` / :func:`redis_key`, which
the rest of ``bot/`` imports via ``bot.redis_pool``. Settings come from
:mod:`bot.stores.settings` (``REDIS_URL`` ...). Clients are per event loop
because a ``redis.asyncio`` connection belongs to the loop that opened it
(Sanic workers, ``rasa export`` and tests each run their own loop).
Timeouts are short on purpose: a slow Redis must become a clear error
(503 / retry), never a hung request.
"""
from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional

import redis
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.stores.settings import RedisSettings, check_key_prefix


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _options(settings: RedisSettings, username: Optional[str] = None) -> Dict[str, Any]:
    """Connection options (a pool's ``Connection`` takes no ``ssl``: see StoreConfig)."""
    return dict(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=username,
        password=settings.password or None,
        socket_timeout=settings.timeout_seconds,
        socket_connect_timeout=settings.timeout_seconds,
        decode_responses=True,
    )


@dataclass(frozen=True)
class StoreConfig:
    """A store's Redis: the settings, overridden by its ``endpoints.yml`` keys."""

    redis: RedisSettings
    username: Optional[str] = None
    use_ssl: bool = False

    @property
    def key_prefix(self) -> str:
        return self.redis.key_prefix

    @property
    def timeout_seconds(self) -> float:
        return self.redis.timeout_seconds

    @classmethod
    def from_kwargs(cls, host: Any = None, **kwargs: Any) -> "StoreConfig":
        """Endpoint keys: url/host (a host or a redis:// URL), port, db,
        password, username, use_ssl, key_prefix, socket_timeout; a key left
        out comes from :class:`RedisSettings` (the environment)."""
        env = RedisSettings.current()
        host = _text(host) or _text(kwargs.get("url"))
        tuning = dict(key_prefix=env.key_prefix, timeout_seconds=env.timeout_seconds,
                      max_connections=env.max_connections)
        if host.startswith(("redis://", "rediss://")):
            base = RedisSettings.from_url(host, "url", **tuning)
        else:
            base = replace(
                env,
                host=host or env.host,
                port=int(_text(kwargs.get("port")) or env.port),
                db=int(_text(kwargs.get("db")) or env.db),
                password=_text(kwargs.get("password")) if kwargs.get("password") is not None else env.password,
            )
        prefix = check_key_prefix(_text(kwargs.get("key_prefix")) or env.key_prefix, "key_prefix")
        timeout = _text(kwargs.get("socket_timeout"))
        base = replace(base, key_prefix=prefix,
                       timeout_seconds=float(timeout) if timeout else base.timeout_seconds)
        return cls(
            redis=base,
            username=_text(kwargs.get("username")) or None,
            use_ssl=_text(kwargs.get("use_ssl")).lower() in ("1", "true", "yes"),
        )

    def sync_client(self) -> redis.Redis:
        """For the few synchronous calls (Rasa's sync LockStore methods, tools)."""
        return redis.Redis(ssl=self.use_ssl, **_options(self.redis, self.username))

    def async_client(self, **overrides: Any) -> aioredis.Redis:
        """Retries once on a connection error, never on a timeout: after Redis
        restarts, every pooled connection fails once on first use ("closed by
        server") and is reopened; a frozen Redis still fails within the timeout.
        (Our scripts are safe to repeat; see ``tracker._SAVE``.)"""
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        options = dict(_options(self.redis, self.username), ssl=self.use_ssl,
                       retry=retry, retry_on_error=[redis.exceptions.ConnectionError])
        return aioredis.Redis(**{**options, **overrides})


@dataclass
class Connection:
    """An async client and the Lua scripts registered on it."""

    client: aioredis.Redis
    scripts: Dict[str, Any]


class LoopClients:
    """One async client (with our Lua scripts) per running event loop."""

    def __init__(self, config: StoreConfig, scripts: Dict[str, str]) -> None:
        self._config = config
        self._lua = scripts
        self._connections: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Connection]" = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> Connection:
        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        if connection is None:
            client = self._config.async_client()
            scripts = {name: client.register_script(source) for name, source in self._lua.items()}
            connection = Connection(client, scripts)
            self._connections[loop] = connection
        return connection


# -- the shared clients of the rest of the project (via bot.redis_pool) ---------

_clients: Dict[int, aioredis.Redis] = {}
_subscribers: Dict[int, aioredis.Redis] = {}


def redis_timeout_seconds() -> float:
    """``REDIS_TIMEOUT_SECONDS`` (default 2)."""
    return RedisSettings.current().timeout_seconds


def get_redis(settings: Optional[RedisSettings] = None) -> aioredis.Redis:
    """The shared client for the running event loop (Sanic workers each have one).

    A bounded pool that *waits* for a free connection (``REDIS_MAX_CONNECTIONS``):
    a burst of thousands of turns must queue for Redis, not fail with "too many
    connections"."""
    loop_id = id(asyncio.get_event_loop())
    client = _clients.get(loop_id)
    if client is None:
        settings = _redis_of(settings)
        pool = aioredis.BlockingConnectionPool(
            max_connections=settings.max_connections,
            timeout=settings.timeout_seconds,
            health_check_interval=30,
            **_options(settings),
        )
        client = aioredis.Redis(connection_pool=pool)
        _clients[loop_id] = client
    return client


def get_subscriber_redis(settings: Optional[RedisSettings] = None) -> aioredis.Redis:
    """A client for long-lived pub/sub subscriptions (one connection each).

    Kept apart from :func:`get_redis`'s bounded pool, so a thousand open
    WebSockets or desk consoles cannot take every connection the turns need.
    No read timeout: a subscription waits for messages as long as it likes.
    """
    loop_id = id(asyncio.get_event_loop())
    client = _subscribers.get(loop_id)
    if client is None:
        options = dict(_options(_redis_of(settings)), socket_timeout=None)
        client = aioredis.Redis(health_check_interval=30, **options)
        _subscribers[loop_id] = client
    return client


def redis_key(*parts: str) -> str:
    """A key under the configured prefix, e.g. ``isp:wa:dedupe:<wamid>``."""
    return ":".join((RedisSettings.current().key_prefix,) + tuple(parts))


def _redis_of(settings: Any) -> RedisSettings:
    """``settings`` may be a RedisSettings, an object with ``.redis`` (the
    project's ``bot.settings.Settings``) or None (the environment)."""
    if settings is None:
        return RedisSettings.current()
    return settings if isinstance(settings, RedisSettings) else settings.redis
