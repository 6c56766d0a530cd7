"""The WhatsApp connector's settings: the WHATSAPP_* variables, read once.

Sanic-free on purpose: ``bot/verification/delivery.py`` sends one-time codes
through :mod:`channels.whatsapp.graph` with these settings, outside any
request (the documented exception to "bot/ imports no channel").
A key given in ``credentials.yml`` (``channels.whatsapp.WhatsAppInput:``)
wins over the variable of the same name (``app_secret`` -> ``WHATSAPP_APP_SECRET``).
Read once per process: by ``WhatsAppInput.from_credentials`` and by the code sender.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from bot.settings import SettingsError, env_str
from bot.stores.settings import env_float

DEFAULT_API_URL = "https://graph.facebook.com"


@dataclass(frozen=True)
class InboxSettings:
    """WHATSAPP_INBOX_*: how soon a dead worker's messages are taken over."""

    check_seconds: float = 20.0  # an entry is first looked at this long after its claim
    heartbeat_seconds: float = 5.0  # beat and sweep period; a worker is dead after 3 missed beats

    @classmethod
    def from_env(cls) -> "InboxSettings":
        return cls(
            check_seconds=env_float("WHATSAPP_INBOX_CHECK_SECONDS", cls.check_seconds, minimum=0.5),
            heartbeat_seconds=env_float("WHATSAPP_INBOX_HEARTBEAT_SECONDS", cls.heartbeat_seconds, minimum=0.2),
        )


@dataclass(frozen=True)
class WhatsAppSettings:
    """The WHATSAPP_* variables, or the same keys in ``credentials.yml``."""

    verify_token: str = ""
    app_secret: str = ""
    access_token: str = ""
    phone_number_id: str = ""
    api_url: str = DEFAULT_API_URL
    api_version: str = "v21.0"
    fallback_template: str = ""
    template_language: str = "pt_BR"
    timeout_seconds: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.5
    inbox: InboxSettings = field(default_factory=InboxSettings)

    @classmethod
    def from_env(cls, credentials: Optional[Mapping[str, Any]] = None) -> "WhatsAppSettings":
        """A key given in ``credentials.yml`` wins over the environment."""
        credentials = credentials or {}

        def get(key: str, default: str = "") -> str:
            value = credentials.get(key)
            if value not in (None, ""):
                return str(value).strip() or default
            return env_str(f"WHATSAPP_{key.upper()}", default)

        api_url = get("api_url", cls.api_url).rstrip("/")
        if not api_url.startswith(("http://", "https://")):
            where = "credentials.yml whatsapp api_url" if credentials.get("api_url") else "WHATSAPP_API_URL"
            raise SettingsError(f"{where} must start with http:// or https://, got {api_url!r}")
        return cls(
            verify_token=get("verify_token"),
            app_secret=get("app_secret"),
            access_token=get("access_token"),
            phone_number_id=get("phone_number_id"),
            api_url=api_url,
            api_version=get("api_version", cls.api_version),
            fallback_template=get("fallback_template"),
            template_language=get("template_language", cls.template_language),
            inbox=InboxSettings.from_env(),
        )
