"""Sending through the WhatsApp Cloud API (Meta Graph API); no Sanic in here.

One ``httpx.AsyncClient`` per process keeps connections open to the Graph
API. Rate limits (429) and server errors (5xx) are retried a bounded number
of times with backoff; error 131047 (the customer's 24-hour window is closed,
only templates may be sent) falls back to a configured template. Errors are
logged with their Graph code, never with the recipient or the message.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional

import httpx

from channels.whatsapp.settings import WhatsAppSettings
from channels.whatsapp.wire import read_receipt, template_body

logger = logging.getLogger(__name__)

WINDOW_CLOSED = 131047
# Graph codes that mean "try again later" even when the HTTP status is 4xx.
RETRYABLE_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 131056}  # 131056: pair rate limit
MAX_RETRY_WAIT_SECONDS = 5.0


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
        """Blue ticks on the customer's message (a failure is logged, never raised)."""
        await self._post(read_receipt(message_id), phone_number_id)

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
