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
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

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


class MediaUnavailable(Exception):
    """The Graph API did not take or give a file; the message says why (no customer data)."""


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

    def _base(self) -> str:
        return f"{self.settings.api_url}/{self.settings.api_version}"

    async def upload_media(self, data: bytes, mime: str, filename: str, phone_number_id: str = "") -> str:
        """``POST /{phone_number_id}/media`` (multipart, as Meta documents it): the media id
        to send the file by, so Meta never has to reach our server for it."""
        number = phone_number_id or self.settings.phone_number_id
        try:
            response = await self.client.post(
                f"{self._base()}/{number}/media",
                data={"messaging_product": "whatsapp", "type": mime},
                files={"file": (filename, data, mime)})
        except httpx.HTTPError as error:
            raise MediaUnavailable(f"upload failed: {type(error).__name__}") from None
        result = _json(response)
        if response.status_code >= 400 or not result.get("id"):
            error = result.get("error") or {}
            logger.warning("WhatsApp Graph API: media upload refused: HTTP %d, code %s, fbtrace_id %s",
                           response.status_code, error.get("code"), error.get("fbtrace_id"))
            raise MediaUnavailable(f"upload refused (HTTP {response.status_code}, code {error.get('code')})")
        return str(result["id"])

    async def download_media(self, media_id: str, max_bytes: int) -> Tuple[bytes, str]:
        """A customer's file: ``GET /{media-id}`` gives a short-lived ``url``, fetched with
        the token. The token goes only to an https URL or to the Graph API's own origin;
        a file over ``max_bytes`` (by Meta's ``file_size`` or while reading) is refused."""
        try:
            answer = await self.client.get(f"{self._base()}/{media_id}")
            info = _json(answer)
            url, size = str(info.get("url") or ""), int(info.get("file_size") or 0)
            if answer.status_code >= 400 or not url:
                raise MediaUnavailable(f"media lookup failed (HTTP {answer.status_code}, "
                                       f"code {(info.get('error') or {}).get('code')})")
            if size > max_bytes:
                raise MediaUnavailable(f"file of {size} bytes is over the limit of {max_bytes}")
            if not _may_carry_token(url, self.settings.api_url):
                raise MediaUnavailable("media URL is neither https nor on the Graph API's origin")
            chunks, total = [], 0
            async with self.client.stream("GET", url) as download:
                if download.status_code >= 400:
                    raise MediaUnavailable(f"download failed (HTTP {download.status_code})")
                async for chunk in download.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise MediaUnavailable(f"file is over the limit of {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as error:
            raise MediaUnavailable(f"download failed: {type(error).__name__}") from None
        except ValueError:
            raise MediaUnavailable("media lookup answer not understood") from None
        return b"".join(chunks), str(info.get("mime_type") or "")

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


def _may_carry_token(url: str, api_url: str) -> bool:
    target, api = urlsplit(url), urlsplit(api_url)
    return target.scheme == "https" or (target.scheme, target.netloc) == (api.scheme, api.netloc)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(default, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return default
