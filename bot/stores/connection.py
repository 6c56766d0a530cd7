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

With ``REDIS_CLUSTER=true`` the same functions return redis-py's cluster
clients (``redis.asyncio.cluster.RedisCluster`` / ``redis.cluster.RedisCluster``),
which follow ``MOVED``/``ASK`` themselves. redis-py 4.x's cluster clients have
no pub/sub and no MULTI, so: subscriptions use a plain connection to one node
(:func:`subscriber_of`; classic PUBLISH reaches every node of a cluster),
:func:`publish` sends PUBLISH to any node, and :class:`Atomic` replaces
``pipeline(transaction=True)`` with one Lua script (keys of one slot, see
:mod:`bot.stores.keys`).
"""
from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import Any, Dict, Optional

import redis
import redis.cluster
from redis import asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.stores.keys import conversation_part
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


def _unreachable(error: redis.exceptions.RedisClusterException) -> BaseException:
    """redis-py reports a cluster it cannot reach as a bare RedisClusterException;
    make that the ConnectionError every caller already treats as "Redis is down"."""
    if isinstance(error.__cause__, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)):
        return redis.exceptions.ConnectionError(str(error))
    return error


class _AsyncCluster(AsyncRedisCluster):
    """redis-py's async cluster client; an unreachable cluster is a ConnectionError."""

    async def initialize(self) -> "_AsyncCluster":
        try:
            return await super().initialize()
        except redis.exceptions.RedisClusterException as error:
            raise _unreachable(error) from error


def _sync_cluster(**options: Any) -> redis.cluster.RedisCluster:
    """redis-py's sync cluster client (it connects at once); unreachable = ConnectionError."""
    try:
        return redis.cluster.RedisCluster(**options)
    except redis.exceptions.RedisClusterException as error:
        raise _unreachable(error) from error


def _cluster_options(settings: RedisSettings, username: Optional[str] = None) -> Dict[str, Any]:
    """A cluster client's options: a startup node, no database (a cluster has one)."""
    return dict(
        host=settings.host,
        port=settings.port,
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

    @property
    def cluster(self) -> bool:
        return self.redis.cluster

    @classmethod
    def from_kwargs(cls, host: Any = None, **kwargs: Any) -> "StoreConfig":
        """Endpoint keys: url/host (a host or a redis:// URL), port, db,
        password, username, use_ssl, key_prefix, socket_timeout, cluster; a
        key left out comes from :class:`RedisSettings` (the environment)."""
        env = RedisSettings.current()
        host = _text(host) or _text(kwargs.get("url"))
        cluster = _text(kwargs.get("cluster")).lower()
        tuning = dict(key_prefix=env.key_prefix, timeout_seconds=env.timeout_seconds,
                      max_connections=env.max_connections,
                      cluster=cluster in ("1", "true", "yes", "on") if cluster else env.cluster)
        if host.startswith(("redis://", "rediss://")):
            base = RedisSettings.from_url(host, "url", **tuning)
        else:
            base = replace(
                env,
                host=host or env.host,
                port=int(_text(kwargs.get("port")) or env.port),
                db=int(_text(kwargs.get("db")) or env.db),
                password=_text(kwargs.get("password")) if kwargs.get("password") is not None else env.password,
                cluster=tuning["cluster"],
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
        if self.cluster:
            return _sync_cluster(ssl=self.use_ssl, **_cluster_options(self.redis, self.username))
        return redis.Redis(ssl=self.use_ssl, **_options(self.redis, self.username))

    def async_client(self, **overrides: Any) -> aioredis.Redis:
        """Retries once on a connection error, never on a timeout: after Redis
        restarts, every pooled connection fails once on first use ("closed by
        server") and is reopened; a frozen Redis still fails within the timeout.
        (Our scripts are safe to repeat; see ``tracker._SAVE``.) On a cluster,
        redis-py's own retries (on ``MOVED``, a lost node) apply instead."""
        if self.cluster:
            options = dict(_cluster_options(self.redis, self.username), ssl=self.use_ssl)
            return _AsyncCluster(**{**options, **overrides})
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        options = dict(_options(self.redis, self.username), ssl=self.use_ssl,
                       retry=retry, retry_on_error=[redis.exceptions.ConnectionError])
        return aioredis.Redis(**{**options, **overrides})

    def subscriber_client(self, **overrides: Any) -> aioredis.Redis:
        """A plain client for SUBSCRIBE (on a cluster: to the configured node)."""
        options = dict(_options(self.redis, self.username), ssl=self.use_ssl)
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
    connections". On a cluster (``REDIS_CLUSTER``) a redis-py cluster client,
    whose per-node pools do not wait (redis-py 4.x has no blocking cluster
    pool), so ``REDIS_MAX_CONNECTIONS`` does not apply there."""
    loop_id = id(asyncio.get_event_loop())
    client = _clients.get(loop_id)
    if client is None and _redis_of(settings).cluster:
        client = _AsyncCluster(health_check_interval=30, **_cluster_options(_redis_of(settings)))
        _clients[loop_id] = client
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
    On a cluster it is a plain connection to the configured node: classic
    PUBLISH reaches subscribers on every node.
    """
    loop_id = id(asyncio.get_event_loop())
    client = _subscribers.get(loop_id)
    if client is None:
        settings = _redis_of(settings)
        if settings.cluster:
            settings = replace(settings, db=0)
        options = dict(_options(settings), socket_timeout=None)
        client = aioredis.Redis(health_check_interval=30, **options)
        _subscribers[loop_id] = client
    return client


def redis_key(*parts: str) -> str:
    """A key under the configured prefix, e.g. ``isp:wa:seen:<wamid>``."""
    return ":".join((RedisSettings.current().key_prefix,) + tuple(parts))


def conversation_key(kind: str, sender_id: str) -> str:
    """``<prefix>:<kind>:<sender>``; on a cluster the sender part carries the
    conversation's hash tag (:func:`bot.stores.keys.conversation_part`)."""
    return redis_key(kind, conversation_part(sender_id, RedisSettings.current().cluster))


def is_cluster(client: Any) -> bool:
    """Whether ``client`` is one of redis-py's cluster clients."""
    return isinstance(client, (AsyncRedisCluster, redis.cluster.RedisCluster))


async def publish(client: Any, channel: str, message: str) -> int:
    """PUBLISH on a plain or a cluster client (redis-py 4.x's async cluster
    client has no ``publish``). Any node broadcasts to the whole cluster, but
    messages sent through different nodes can overtake each other, so every
    replica publishes a channel through one node: the master of the channel
    name's slot. Subscribers then see one channel's messages in order."""
    if isinstance(client, AsyncRedisCluster):
        await client.initialize()  # no-op once the slots are known
        node = client.get_node_from_key(channel)
        return await client.execute_command("PUBLISH", channel, message, target_nodes=node)
    return await client.publish(channel, message)


def subscriber_of(client: Any) -> aioredis.Redis:
    """A client that can SUBSCRIBE: ``client`` itself, or for a cluster client
    a plain connection to its first startup node (with its credentials)."""
    if not isinstance(client, AsyncRedisCluster):
        return client
    node = next(iter(client.nodes_manager.startup_nodes.values()))
    kwargs = {name: node.connection_kwargs.get(name)
              for name in ("username", "password", "decode_responses", "socket_connect_timeout")}
    return aioredis.Redis(host=node.host, port=int(node.port), socket_timeout=None,
                          health_check_interval=30, **kwargs)


# Runs queued commands in one script: MULTI/EXEC semantics (nothing runs in
# between) that a cluster accepts too, when all the keys share a slot.
# ARGV: per command <number of keys> <number of args> <name> <args...>; its
# keys come next from KEYS, in order.
_ATOMIC = """
local out, k, i = {}, 0, 1
while i <= #ARGV do
  local nkeys, nargs = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local call = {ARGV[i + 2]}
  for j = 1, nkeys do k = k + 1; call[#call + 1] = KEYS[k] end
  for j = 1, nargs do call[#call + 1] = ARGV[i + 2 + j] end
  out[#out + 1] = redis.call(unpack(call))
  i = i + 3 + nargs
end
return out
"""


class Atomic:
    """Commands on keys of one slot run as one unit, on a server or a cluster.

    ``pipeline(transaction=True)`` is refused by redis-py 4.x's cluster
    client; this sends the queued commands as one Lua script instead. Replies
    are Redis' raw ones (integers, strings, ``None``), without redis-py's
    per-command conversions."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._keys: list = []
        self._argv: list = []

    def call(self, command: str, key: str, *args: Any) -> "Atomic":
        self._keys.append(key)
        self._argv.extend([1, len(args), command, *args])
        return self

    async def execute(self) -> list:
        if not self._argv:
            return []
        script = self._client.register_script(_ATOMIC)  # only hashes it; loaded on first use
        return list(await script(keys=self._keys, args=self._argv))


def _redis_of(settings: Any) -> RedisSettings:
    """``settings`` may be a RedisSettings, an object with ``.redis`` (the
    project's ``bot.settings.Settings``) or None (the environment)."""
    if settings is None:
        return RedisSettings.current()
    return settings if isinstance(settings, RedisSettings) else settings.redis
