"""Sending through the WhatsApp Cloud API (Meta Graph API), with its settings.

One ``httpx.AsyncClient`` per process keeps connections open to the Graph
API. Rate limits (429) and server errors (5xx) are retried a bounded number
of times with backoff; error 131047 (the customer's 24-hour window is closed,
only templates may be sent) falls back to a configured template. Errors are
logged with their Graph code, never with the recipient or the message.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import httpx

from bot.whatsapp_format import template_body

logger = logging.getLogger(__name__)

WINDOW_CLOSED = 131047
# Graph codes that mean "try again later" even when the HTTP status is 4xx.
RETRYABLE_CODES = {1, 2, 4, 80007, 130429, 131000, 131016}
MAX_RETRY_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class WhatsAppSettings:
    """The WHATSAPP_* variables, or the same keys in ``credentials.yml``."""

    verify_token: str = ""
    app_secret: str = ""
    access_token: str = ""
    phone_number_id: str = ""
    api_url: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    fallback_template: str = ""
    template_language: str = "pt_BR"
    timeout_seconds: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.5

    @classmethod
    def from_env(cls, credentials: Optional[Mapping[str, Any]] = None) -> "WhatsAppSettings":
        """A key given in ``credentials.yml`` wins over the environment."""
        credentials = credentials or {}

        def get(key: str, default: str = "") -> str:
            value = credentials.get(key)
            if value in (None, ""):
                value = os.environ.get(f"WHATSAPP_{key.upper()}", "")
            return str(value).strip() or default

        return cls(
            verify_token=get("verify_token"),
            app_secret=get("app_secret"),
            access_token=get("access_token"),
            phone_number_id=get("phone_number_id"),
            api_url=get("api_url", cls.api_url).rstrip("/"),
            api_version=get("api_version", cls.api_version),
            fallback_template=get("fallback_template"),
            template_language=get("template_language", cls.template_language),
        )


@dataclass(frozen=True)
class Sent:
    """The outcome of one send: the new message id, or the Graph error code."""

    message_id: str = ""
    error_code: Optional[int] = None

    @property
    def window_closed(self) -> bool:
        return self.error_code == WINDOW_CLOSED


class GraphClient:
    """POSTs message bodies to ``/{version}/{phone_number_id}/messages``."""

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self._client: Optional[httpx.AsyncClient] = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=self.settings.timeout_seconds,
                headers={"Authorization": f"Bearer {self.settings.access_token}"},
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def url(self, phone_number_id: str = "") -> str:
        s = self.settings
        return f"{s.api_url}/{s.api_version}/{phone_number_id or s.phone_number_id}/messages"

    async def send(self, to: str, body: Dict[str, Any], phone_number_id: str = "") -> Sent:
        """Send one message body to the customer ``to`` (their ``wa_id``)."""
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        result = await self._post(payload, phone_number_id)
        if "error" in result:
            return Sent(error_code=result["error"].get("code"))
        messages = result.get("messages") or [{}]
        return Sent(message_id=str(messages[0].get("id") or ""))

    async def send_fallback_template(self, to: str, phone_number_id: str = "") -> Optional[str]:
        """The configured template, the only thing allowed outside the 24-hour window."""
        s = self.settings
        if not s.fallback_template:
            logger.warning(
                "WhatsApp 24-hour window closed (131047) and WHATSAPP_FALLBACK_TEMPLATE "
                "is not set: message not delivered"
            )
            return None
        sent = await self.send(to, template_body(s.fallback_template, s.template_language), phone_number_id)
        return sent.message_id

    async def mark_read(self, message_id: str, phone_number_id: str = "") -> None:
        await self._post(
            {"messaging_product": "whatsapp", "status": "read", "message_id": message_id},
            phone_number_id,
        )

    async def _post(self, payload: Dict[str, Any], phone_number_id: str) -> Dict[str, Any]:
        """The Graph answer as JSON (``{"error": {...}}`` on failure), retrying what may pass later."""
        what = payload.get("type") or payload.get("status") or "message"
        attempts = 1 + max(0, self.settings.retries)
        for attempt in range(1, attempts + 1):
            wait = self.settings.backoff_seconds * 2 ** (attempt - 1)
            try:
                response = await self.client.post(self.url(phone_number_id), json=payload)
            except httpx.HTTPError as error:
                logger.warning(
                    "WhatsApp Graph API unreachable sending %s (attempt %d/%d): %s",
                    what, attempt, attempts, type(error).__name__,
                )
                result: Dict[str, Any] = {"error": {"code": None, "type": type(error).__name__}}
            else:
                result = _json(response)
                if response.status_code < 400 and "error" not in result:
                    return result
                error = result.setdefault("error", {})
                logger.warning(
                    "WhatsApp Graph API error sending %s (attempt %d/%d): HTTP %d, code %s, "
                    "subcode %s, type %s, fbtrace_id %s",
                    what, attempt, attempts, response.status_code, error.get("code"),
                    error.get("error_subcode"), error.get("type"), error.get("fbtrace_id"),
                )
                retryable = response.status_code == 429 or response.status_code >= 500
                if not retryable and error.get("code") not in RETRYABLE_CODES:
                    return result
                wait = _retry_after(response, wait)
            if attempt < attempts:
                await asyncio.sleep(min(wait, MAX_RETRY_WAIT_SECONDS))
        logger.error("WhatsApp Graph API: %s not sent after %d attempts", what, attempts)
        return result


def _json(response: httpx.Response) -> Dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    return {} if response.status_code < 400 else {"error": {"code": None, "type": "non-JSON answer"}}


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(default, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return default
