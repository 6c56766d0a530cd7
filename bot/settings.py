"""Settings read from the environment, in one place, with defaults for a laptop.

``python -m bot.settings`` prints them as ``export`` lines so the shell scripts
that start Rasa (which reads ``${VAR}`` in ``endpoints.yml``) see exactly the
values the Python code sees.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
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


def env_list(name: str) -> tuple[str, ...]:
    """A comma-separated setting (``a, b,c``) as a tuple; unset gives ``()``."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_bool(name: str, default: bool) -> bool:
    """A yes/no setting (1/true/yes/on, 0/false/no/off); anything else names the variable."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be one of {'/'.join(_TRUE + _FALSE)}, got {raw!r}")


_int = env_int

# Every secret (tokens, JWT keys): at least this many characters, so that it
# cannot be guessed or brute-forced; `openssl rand -hex 32` makes a good one.
SECRET_MIN_CHARS = 32
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def env_secret(name: str, required: bool = False) -> str:
    """A secret from the environment: "" when unset and optional; a set one must be strong."""
    value = os.environ.get(name, "")
    if not value:
        if required:
            raise SettingsError(
                f"{name} is not set: it must be a secret of at least {SECRET_MIN_CHARS} "
                "characters (e.g. `openssl rand -hex 32`; `make run` generates one)"
            )
        return ""
    if len(value) < SECRET_MIN_CHARS:
        raise SettingsError(
            f"{name} is too weak ({len(value)} characters): use at least "
            f"{SECRET_MIN_CHARS} (e.g. `openssl rand -hex 32`)"
        )
    return value


def _option(argv: list[str], *names: str) -> str | None:
    """The value of a ``--name value`` / ``--name=value`` option in ``argv``."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def check_rasa_server(argv: list[str]) -> list[str]:
    """Refuse an unsafe ``rasa run`` (SettingsError naming the variable); return warnings.

    Runs once, when our connectors are created, from the command line Rasa
    was started with: Rasa keeps its ``--auth-token`` to itself.
    """
    env_secret("ACTION_SERVER_TOKEN", required=True)  # endpoints.yml sends it
    for name in ("DESK_JWT_SECRET", "SOCKETIO_JWT_SECRET", "WEBSOCKET_JWT_SECRET", "METRICS_TOKEN"):
        env_secret(name)
    if "--enable-api" in argv:
        token, jwt_secret = _option(argv, "--auth-token", "-t"), _option(argv, "--jwt-secret")
        if not token and not jwt_secret:
            raise SettingsError(
                "Rasa's HTTP API is enabled (--enable-api) without --auth-token: anyone could "
                "read and change every conversation. Set RASA_API_TOKEN and start with "
                '--auth-token "$RASA_API_TOKEN" (`make run` does), or leave --enable-api out'
            )
        for name, value in (("RASA_API_TOKEN (--auth-token)", token),
                            ("RASA_JWT_SECRET (--jwt-secret)", jwt_secret)):
            if value is not None and len(value) < SECRET_MIN_CHARS:
                raise SettingsError(f"{name} is too weak ({len(value)} characters): "
                                    f"use at least {SECRET_MIN_CHARS}")
    warnings = []
    interface = _option(argv, "--interface", "-i") or "0.0.0.0"
    if not os.environ.get("CHAT_API_KEYS", "").strip() and interface not in LOOPBACK_HOSTS:
        warnings.append(
            f"CHAT_API_KEYS is not set and Rasa listens on {interface}: /api/v1/chat is "
            "open to anyone who can reach this port. Set CHAT_API_KEYS for integrators."
        )
    return warnings


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    db: int
    password: str

    @classmethod
    def from_url(cls, url: str) -> "RedisSettings":
        """Parse ``redis://[:password@]host[:port][/db]``."""
        parsed = urlparse(url)
        if parsed.scheme not in ("redis", "rediss"):
            raise SettingsError(f"REDIS_URL must start with redis://, got {url!r}")
        try:
            port = parsed.port or 6379
        except ValueError:
            raise SettingsError(f"REDIS_URL has an invalid port: {url!r}") from None
        path = parsed.path.strip("/")
        if path and not path.isdigit():
            raise SettingsError(f"REDIS_URL database must be a number, got {path!r}")
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=port,
            db=int(path) if path else 0,
            password=unquote(parsed.password or ""),
        )

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.db}"


@dataclass(frozen=True)
class Settings:
    redis: RedisSettings
    redis_key_prefix: str
    tracker_ttl_seconds: int
    action_server_url: str

    @classmethod
    def from_env(cls) -> "Settings":
        url = os.environ.get("REDIS_URL", "").strip()
        if url:
            redis = RedisSettings.from_url(url)
        else:
            redis = RedisSettings(
                host=os.environ.get("REDIS_HOST", "127.0.0.1"),
                port=_int("REDIS_PORT", 6379, 1),
                db=_int("REDIS_DB", 0),
                password=os.environ.get("REDIS_PASSWORD", ""),
            )
        return cls(
            redis=redis,
            redis_key_prefix=os.environ.get("REDIS_KEY_PREFIX", "isp"),
            tracker_ttl_seconds=_int("TRACKER_TTL_SECONDS", 30 * 24 * 3600, 1),
            action_server_url=os.environ.get("ACTION_SERVER_URL")
            or f"http://127.0.0.1:{_int('ACTION_PORT', 5055, 1)}/webhook",
        )

    def as_env(self) -> dict[str, str]:
        """The variables ``endpoints.yml`` expands, fully resolved."""
        return {
            "REDIS_URL": self.redis.url,
            "REDIS_HOST": self.redis.host,
            "REDIS_PORT": str(self.redis.port),
            "REDIS_DB": str(self.redis.db),
            "REDIS_PASSWORD": self.redis.password,
            "REDIS_KEY_PREFIX": self.redis_key_prefix,
            "TRACKER_TTL_SECONDS": str(self.tracker_ttl_seconds),
            "ACTION_SERVER_URL": self.action_server_url,
        }


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    for name, value in settings.as_env().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
