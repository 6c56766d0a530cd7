"""Settings read from the environment, grouped per feature, with defaults for a laptop.

Each feature has one frozen dataclass with ``from_env()`` that validates its
variables and names the variable in every error (:class:`SettingsError`).
Here: the Redis and tracker groups (defined by the self-contained
``bot.stores.settings`` and re-exported), the action server, the secrets and
the start-up check of ``rasa run``. Other features keep theirs in their
package (``bot.desk``, ``bot.llm``, ``bot.verification``, channels ...),
built with the helpers below.

``python -m bot.settings`` prints them as ``export`` lines so the shell scripts
see exactly the values the Python code sees.
"""
from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass

from bot.stores.settings import (  # noqa: F401  (re-exported: one SettingsError, one parser)
    RedisSettings,
    SettingsError,
    TrackerSettings,
    env_float,
    env_int,
    env_str,
)


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
                "characters (e.g. `openssl rand -hex 32`; `make setup` puts one in .env)"
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
class ActionServerSettings:
    """Where Rasa calls the custom actions (``ACTION_SERVER_URL``, default
    ``http://127.0.0.1:$ACTION_PORT/webhook``). The action server's own side
    (its token, the address it binds) is ``rasa_sdk_plugins``' GuardSettings."""

    url: str = "http://127.0.0.1:5055/webhook"
    port: int = 5055

    @classmethod
    def from_env(cls) -> "ActionServerSettings":
        port = env_int("ACTION_PORT", cls.port, 1)
        url = env_str("ACTION_SERVER_URL", f"http://127.0.0.1:{port}/webhook")
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"ACTION_SERVER_URL must start with http:// or https://, got {url!r}")
        return cls(url=url, port=port)


@dataclass(frozen=True)
class Settings:
    """The groups this module owns, read together (``python -m bot.settings``)."""

    redis: RedisSettings
    tracker: TrackerSettings
    action_server: ActionServerSettings

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            redis=RedisSettings.from_env(),
            tracker=TrackerSettings.from_env(),
            action_server=ActionServerSettings.from_env(),
        )

    @property
    def redis_key_prefix(self) -> str:
        return self.redis.key_prefix

    @property
    def tracker_ttl_seconds(self) -> int:
        return self.tracker.ttl_seconds

    @property
    def action_server_url(self) -> str:
        return self.action_server.url

    def as_env(self) -> dict[str, str]:
        """The variables the scripts use, fully resolved."""
        return {
            "REDIS_URL": self.redis.url,
            "REDIS_HOST": self.redis.host,
            "REDIS_PORT": str(self.redis.port),
            "REDIS_DB": str(self.redis.db),
            "REDIS_PASSWORD": self.redis.password,
            "REDIS_KEY_PREFIX": self.redis.key_prefix,
            "REDIS_CLUSTER": "true" if self.redis.cluster else "false",
            "TRACKER_TTL_SECONDS": str(self.tracker.ttl_seconds),
            "ACTION_SERVER_URL": self.action_server.url,
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
