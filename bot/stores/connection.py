"""Async Redis clients for the stores, built from the endpoint config.

Rasa passes the ``tracker_store:`` / ``lock_store:`` keys of ``endpoints.yml``
as strings (after ``${VAR}`` expansion); anything left out comes from
``bot.settings`` (``REDIS_URL`` ...). Clients are per event loop because a
``redis.asyncio`` connection belongs to the loop that opened it (Sanic
workers, ``rasa export`` and tests each run their own loop).
"""
from __future__ import annotations

import asyncio
import os
import weakref
from dataclasses import dataclass
from typing import Any, Dict, Optional

import redis
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.settings import RedisSettings, Settings

DEFAULT_TIMEOUT_SECONDS = 2.0


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class StoreConfig:
    redis: RedisSettings
    username: Optional[str]
    use_ssl: bool
    key_prefix: str
    timeout_seconds: float

    @classmethod
    def from_kwargs(cls, host: Any = None, **kwargs: Any) -> "StoreConfig":
        """Endpoint keys: url/host (a host or a redis:// URL), port, db,
        password, username, use_ssl, key_prefix, socket_timeout."""
        settings = Settings.from_env()
        host = _text(host) or _text(kwargs.get("url"))
        if host.startswith(("redis://", "rediss://")):
            base = RedisSettings.from_url(host)
        else:
            env = settings.redis
            base = RedisSettings(
                host=host or env.host,
                port=int(_text(kwargs.get("port")) or env.port),
                db=int(_text(kwargs.get("db")) or env.db),
                password=_text(kwargs.get("password")) if kwargs.get("password") is not None else env.password,
            )
        prefix = _text(kwargs.get("key_prefix")) or settings.redis_key_prefix
        if not prefix.isalnum():
            raise ValueError(f"key_prefix must be letters and digits, got {prefix!r}")
        timeout = _text(kwargs.get("socket_timeout")) or os.environ.get("REDIS_TIMEOUT_SECONDS", "")
        return cls(
            redis=base,
            username=_text(kwargs.get("username")) or None,
            use_ssl=_text(kwargs.get("use_ssl")).lower() in ("1", "true", "yes"),
            key_prefix=prefix,
            timeout_seconds=float(timeout or DEFAULT_TIMEOUT_SECONDS),
        )

    def _options(self) -> Dict[str, Any]:
        return dict(
            host=self.redis.host,
            port=self.redis.port,
            db=self.redis.db,
            username=self.username,
            password=self.redis.password or None,
            ssl=self.use_ssl,
            socket_timeout=self.timeout_seconds,
            socket_connect_timeout=self.timeout_seconds,
            decode_responses=True,
        )

    def sync_client(self) -> redis.Redis:
        """For the few synchronous calls (Rasa's sync LockStore methods, tools)."""
        return redis.Redis(**self._options())

    def async_client(self, **overrides: Any) -> aioredis.Redis:
        """Retries once on a connection error, never on a timeout: after Redis
        restarts, every pooled connection fails once on first use ("closed by
        server") and is reopened; a frozen Redis still fails within the timeout.
        (Our scripts are safe to repeat; see ``tracker._SAVE``.)"""
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        options = dict(self._options(), retry=retry, retry_on_error=[redis.exceptions.ConnectionError])
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
