"""The stores' settings: Redis (address, key prefix, timeouts, pool) and the tracker.

Read from the environment with laptop defaults; a bad value raises
:class:`SettingsError` naming the variable. Parsed once per distinct set of
values (``current()``), so a process reads them once and a test that sets a
variable gets the new value. Part of the self-contained ``bot.stores``
package: it imports nothing from the rest of the project (``bot.settings``
re-exports these helpers instead of repeating them).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple
from urllib.parse import unquote, urlparse


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _number(name: str, default, minimum, kind: type, kind_words: str):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {kind_words}, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting; a bad value is a SettingsError naming the variable."""
    return _number(name, default, minimum, int, "an integer")


def env_float(name: str, default: float, minimum: float = 0.0) -> float:
    """A number setting (seconds, thresholds); a bad value names the variable."""
    return _number(name, default, minimum, float, "a number")


def env_str(name: str, default: str = "") -> str:
    """A text setting, stripped; unset or blank gives ``default``."""
    return os.environ.get(name, "").strip() or default


def env_flag(name: str, default: bool = False) -> bool:
    """A yes/no setting (1/true/yes/on, 0/false/no/off); anything else names the variable."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be one of 1/true/yes/on/0/false/no/off, got {raw!r}")


def check_key_prefix(prefix: str, name: str = "REDIS_KEY_PREFIX") -> str:
    """Letters and digits only: the prefix starts every key and pub/sub channel."""
    if not prefix.isalnum():
        raise SettingsError(f"{name} must be letters and digits, got {prefix!r}")
    return prefix


_REDIS_VARIABLES = ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD",
                    "REDIS_KEY_PREFIX", "REDIS_TIMEOUT_SECONDS", "REDIS_MAX_CONNECTIONS",
                    "REDIS_CLUSTER")
_TRACKER_VARIABLES = ("TRACKER_TTL_SECONDS", "TRACKER_MAX_EVENTS", "TRACKER_WINDOW_EVENTS")


def _snapshot(names: Tuple[str, ...]) -> Tuple[str, ...]:
    return tuple(os.environ.get(name, "") for name in names)


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is (``REDIS_URL``, else ``REDIS_HOST``/``PORT``/``DB``/``PASSWORD``),
    the prefix of every key (``REDIS_KEY_PREFIX``), the connect/read timeout
    (``REDIS_TIMEOUT_SECONDS``: a stuck Redis becomes an error, not a hung turn),
    the pool size per process (``REDIS_MAX_CONNECTIONS``) and whether it is a
    Redis Cluster (``REDIS_CLUSTER``: the address is then one startup node, the
    clients follow ``MOVED`` and keys carry hash tags; see :mod:`bot.stores.keys`)."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: str = ""
    key_prefix: str = "isp"
    timeout_seconds: float = 2.0
    max_connections: int = 64
    cluster: bool = False

    def __post_init__(self) -> None:
        if self.cluster and self.db != 0:
            raise SettingsError(
                f"REDIS_DB must be 0 with REDIS_CLUSTER=true (a cluster has one database), got {self.db}")

    @classmethod
    def from_url(cls, url: str, name: str = "REDIS_URL", **tuning) -> "RedisSettings":
        """Parse ``redis://[:password@]host[:port][/db]``."""
        parsed = urlparse(url)
        if parsed.scheme not in ("redis", "rediss"):
            raise SettingsError(f"{name} must start with redis://, got {url!r}")
        try:
            port = parsed.port or 6379
        except ValueError:
            raise SettingsError(f"{name} has an invalid port: {url!r}") from None
        path = parsed.path.strip("/")
        if path and not path.isdigit():
            raise SettingsError(f"{name} database must be a number, got {path!r}")
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=port,
            db=int(path) if path else 0,
            password=unquote(parsed.password or ""),
            **tuning,
        )

    @classmethod
    def from_env(cls) -> "RedisSettings":
        tuning = dict(
            key_prefix=check_key_prefix(env_str("REDIS_KEY_PREFIX", "isp")),
            timeout_seconds=env_float("REDIS_TIMEOUT_SECONDS", 2.0, 0.01),
            max_connections=env_int("REDIS_MAX_CONNECTIONS", 64, 1),
            cluster=env_flag("REDIS_CLUSTER"),
        )
        url = env_str("REDIS_URL")
        if url:
            return cls.from_url(url, **tuning)
        return cls(
            host=env_str("REDIS_HOST", "127.0.0.1"),
            port=env_int("REDIS_PORT", 6379, 1),
            db=env_int("REDIS_DB", 0),
            password=os.environ.get("REDIS_PASSWORD", ""),
            **tuning,
        )

    @classmethod
    def current(cls) -> "RedisSettings":
        """:meth:`from_env`, parsed once per distinct set of values."""
        return _redis_settings(_snapshot(_REDIS_VARIABLES))

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"

    @property
    def address(self) -> str:
        """``host:port``, for messages (never the password)."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TrackerSettings:
    """How long a conversation lives after its last turn (``TRACKER_TTL_SECONDS``),
    the cap of stored events (``TRACKER_MAX_EVENTS``, 0 = none) and the history
    a turn replays at least (``TRACKER_WINDOW_EVENTS``, 0 = the whole session)."""

    ttl_seconds: int = 30 * 24 * 3600
    max_events: int = 10_000
    window_events: int = 50

    @classmethod
    def from_env(cls) -> "TrackerSettings":
        return cls(
            ttl_seconds=env_int("TRACKER_TTL_SECONDS", cls.ttl_seconds, 1),
            max_events=env_int("TRACKER_MAX_EVENTS", cls.max_events, 0),
            window_events=env_int("TRACKER_WINDOW_EVENTS", cls.window_events, 0),
        )

    @classmethod
    def current(cls) -> "TrackerSettings":
        return _tracker_settings(_snapshot(_TRACKER_VARIABLES))


@lru_cache(maxsize=8)
def _redis_settings(_values: Tuple[str, ...]) -> RedisSettings:
    return RedisSettings.from_env()


@lru_cache(maxsize=8)
def _tracker_settings(_values: Tuple[str, ...]) -> TrackerSettings:
    return TrackerSettings.from_env()
