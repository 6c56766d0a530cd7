"""Settings of the chat connectors (REST, Rasa's REST webhook, WebSocket, socket.io, widget, health).

One frozen dataclass per feature, each with ``from_env()`` reading through
:mod:`bot.settings` (a bad value is a ``SettingsError`` naming the
variable), grouped in :class:`ChatSettings`. Connectors take
:func:`chat_settings` (read once per process, when Rasa builds them from
``credentials.yml``); tests build the dataclasses directly.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple

from bot.settings import SettingsError, env_bool, env_float, env_int, env_list, env_secret, env_str

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def rate_limit_per_minute() -> int:
    """``CHAT_RATE_LIMIT_PER_MINUTE`` (default 30, 0 = off): one budget per
    conversation, shared by the REST API, the WebSocket and socket.io."""
    return env_int("CHAT_RATE_LIMIT_PER_MINUTE", 30)


@dataclass(frozen=True)
class ApiSettings:
    """The chat REST API and Rasa's REST webhook (``CHAT_*``)."""

    api_keys: Tuple[str, ...]
    rate_limit_per_minute: int
    cors_origins: Tuple[str, ...]

    @classmethod
    def from_env(cls) -> "ApiSettings":
        return cls(
            api_keys=env_list("CHAT_API_KEYS"),
            rate_limit_per_minute=rate_limit_per_minute(),
            cors_origins=env_list("CHAT_CORS_ORIGINS"),
        )


@dataclass(frozen=True)
class WebSocketSettings:
    """The plain WebSocket at ``/ws/chat/<session_id>`` (``WEBSOCKET_*``)."""

    jwt_secret: str
    idle_timeout_seconds: int
    max_connections: int
    rate_limit_per_minute: int

    @classmethod
    def from_env(cls) -> "WebSocketSettings":
        return cls(
            jwt_secret=env_secret("WEBSOCKET_JWT_SECRET"),
            idle_timeout_seconds=env_int("WEBSOCKET_IDLE_TIMEOUT_SECONDS", 300, 1),
            max_connections=env_int("WEBSOCKET_MAX_CONNECTIONS", 1000, 1),
            rate_limit_per_minute=rate_limit_per_minute(),
        )


@dataclass(frozen=True)
class SocketIOSettings:
    """socket.io (``SOCKETIO_*``): the widget's token secret, and whether emits
    go through Redis (``SOCKETIO_REDIS``, default on: needed with replicas and
    for deliveries outside a request)."""

    jwt_secret: str
    use_redis: bool
    rate_limit_per_minute: int

    @classmethod
    def from_env(cls) -> "SocketIOSettings":
        return cls(
            jwt_secret=env_secret("SOCKETIO_JWT_SECRET"),
            use_redis=env_bool("SOCKETIO_REDIS", True),
            rate_limit_per_minute=rate_limit_per_minute(),
        )


@dataclass(frozen=True)
class WidgetSettings:
    """The demo page at ``/widget`` (``WIDGET_*``): provider name, title, colour."""

    provider: str
    title: str
    subtitle: str
    color: str
    init_payload: str

    @classmethod
    def from_env(cls) -> "WidgetSettings":
        color = env_str("WIDGET_COLOR", "#0b6e4f")
        if not _COLOR.match(color):
            raise SettingsError(f"WIDGET_COLOR must be a hex colour like #0b6e4f, got {color!r}")
        provider = env_str("WIDGET_PROVIDER", "Seu Provedor")
        return cls(
            provider=provider,
            title=env_str("WIDGET_TITLE", "Atendimento"),
            subtitle=env_str("WIDGET_SUBTITLE", provider),
            color=color,
            # unset: "/greet"; set to blank: no greeting (so not env_str, which defaults blanks)
            init_payload=os.environ.get("WIDGET_INIT_PAYLOAD", "/greet").strip(),
        )


@dataclass(frozen=True)
class HealthSettings:
    """``/health`` and ``/metrics``: ``METRICS_TOKEN`` (unset: detail and metrics
    closed to everyone) and ``HEALTH_CHECK_TIMEOUT_SECONDS`` (default 0.08: each
    dependency check gives up after it, so ``/health`` answers within ~100 ms
    even with Redis frozen). ``llm_configured``: whether ``OPENAI_API_KEY`` is set."""

    metrics_token: str
    check_timeout_seconds: float
    llm_configured: bool

    @classmethod
    def from_env(cls) -> "HealthSettings":
        return cls(
            metrics_token=env_secret("METRICS_TOKEN"),
            check_timeout_seconds=env_float("HEALTH_CHECK_TIMEOUT_SECONDS", 0.08, 0.001),
            llm_configured=bool(env_str("OPENAI_API_KEY")),
        )


@dataclass(frozen=True)
class IdempotencySettings:
    """Idempotency keys of inbound messages (``channels/common/idempotency.py``):
    ``IDEMPOTENCY_TTL_SECONDS`` (default 86400: how long a key's answer is kept
    for retries), ``IDEMPOTENCY_WAIT_SECONDS`` (default 10: how long a
    duplicate waits for the first request's answer before a 409) and
    ``IDEMPOTENCY_LEASE_SECONDS`` (default 15: how soon a retry takes over a key
    whose replica died mid-turn; renewed every third of it while the turn runs)."""

    ttl_seconds: int
    wait_seconds: float
    lease_seconds: float = 15.0

    @classmethod
    def from_env(cls) -> "IdempotencySettings":
        return cls(
            ttl_seconds=env_int("IDEMPOTENCY_TTL_SECONDS", 86400, 1),
            wait_seconds=env_float("IDEMPOTENCY_WAIT_SECONDS", 10.0, 0.0),
            lease_seconds=env_float("IDEMPOTENCY_LEASE_SECONDS", 15.0, 1.0),
        )


@dataclass(frozen=True)
class ShutdownSettings:
    """Graceful SIGTERM (``channels/common/drain.py``): ``SHUTDOWN_DRAIN_SECONDS``
    (default 10) is how long running turns get to finish before the server stops;
    keep it under the orchestrator's grace period (Kubernetes: 30 s)."""

    drain_seconds: float

    @classmethod
    def from_env(cls) -> "ShutdownSettings":
        return cls(drain_seconds=env_float("SHUTDOWN_DRAIN_SECONDS", 10.0, 0.0))


@dataclass(frozen=True)
class ChatSettings:
    api: ApiSettings
    websocket: WebSocketSettings
    socketio: SocketIOSettings
    widget: WidgetSettings
    health: HealthSettings
    idempotency: IdempotencySettings
    shutdown: ShutdownSettings

    @classmethod
    def from_env(cls) -> "ChatSettings":
        return cls(
            api=ApiSettings.from_env(),
            websocket=WebSocketSettings.from_env(),
            socketio=SocketIOSettings.from_env(),
            widget=WidgetSettings.from_env(),
            health=HealthSettings.from_env(),
            idempotency=IdempotencySettings.from_env(),
            shutdown=ShutdownSettings.from_env(),
        )


@lru_cache(maxsize=1)
def chat_settings() -> ChatSettings:
    """:class:`ChatSettings` of this process, read once."""
    return ChatSettings.from_env()
