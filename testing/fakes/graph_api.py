"""A local Meta Graph API (WhatsApp Cloud API ``/messages``) recording every request.

Answers like Meta: ``{"messaging_product": "whatsapp", "contacts": [...],
"messages": [{"id": "wamid...."}]}``; a read receipt gets ``{"success": true}``.
``fail_next(n, status)`` answers the next ``n`` sends with HTTP 429/500 and
``error_next(n, code)`` with a Graph error body (e.g. 131047).

Media as Meta serves it: ``POST /{phone_number_id}/media`` (multipart
``file``, ``type``, ``messaging_product``) keeps an upload and answers its
``id`` (:attr:`uploads`); ``GET /{media-id}`` answers ``url``, ``mime_type``,
``sha256`` and ``file_size``, and that URL gives the bytes to the same bearer
token. :meth:`add_media` places a customer's file for a webhook to name.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

from testing.fakes.multipart import parse_body

# What the tests configure the connector with (WHATSAPP_* in server_env).
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
FALLBACK_TEMPLATE = "retomar_atendimento"

ERROR_MESSAGES = {
    131047: ("Re-engagement message", "Message failed to send because more than 24 hours have "
                                      "passed since the customer last replied to this number."),
    100: ("Invalid parameter", "Invalid parameter"),
    190: ("Invalid OAuth access token", "Invalid OAuth access token - Cannot parse access token"),
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]
    json: Any
    status: int
    answer: Any = None  # what the stand-in answered (the wamid of a sent message)
    at: float = field(default_factory=time.monotonic)  # when it arrived (benches time replies)

    @property
    def to(self) -> str:
        return (self.json or {}).get("to", "")

    @property
    def type(self) -> str:
        """``text``, ``interactive``, ``template``... or ``read`` for a read receipt."""
        body = self.json or {}
        return body.get("type") or body.get("status") or ""


class FakeGraphApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: List[Recorded] = []
        self._lock = threading.Lock()
        self._faults: List[Dict[str, Any]] = []
        self.media: Dict[str, Dict[str, Any]] = {}  # id -> data, mime, filename
        self.uploads: List[str] = []  # ids of the files the bot uploaded, in order
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- switches -----------------------------------------------------------
    def fail_next(self, count: int, status: int = 500) -> None:
        """The next ``count`` message sends answer HTTP ``status`` (429, 500...)."""
        with self._lock:
            self._faults += [{"status": status}] * count

    def error_next(self, count: int, code: int = 131047, status: int = 400) -> None:
        """The next ``count`` message sends answer a Graph error body with ``code``."""
        with self._lock:
            self._faults += [{"status": status, "code": code}] * count

    def add_media(self, data: bytes, mime: str, filename: str = "") -> str:
        """Keep a customer's file as Meta would; its media id for a webhook."""
        media_id = str(uuid.uuid4().int)[:16]
        with self._lock:
            self.media[media_id] = {"data": data, "mime": mime, "filename": filename}
        return media_id

    def uploaded(self, media_id: str) -> Dict[str, Any]:
        """A file the bot uploaded (data, mime, filename)."""
        with self._lock:
            return dict(self.media[media_id])

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()

    # --- what was sent ------------------------------------------------------
    def sent(self, to: Optional[str] = None, kind: Optional[str] = None) -> List[Recorded]:
        """Successful requests (optionally to one customer / of one type)."""
        with self._lock:
            found = [r for r in self.requests if r.status == 200]
        return [r for r in found if (to is None or r.to == to) and (kind is None or r.type == kind)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Poll until ``predicate()`` is truthy; its value, or AssertionError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"nothing matched within {timeout}s; recorded: {self.requests[-10:]}")

    # --- server -------------------------------------------------------------
    def start(self) -> "FakeGraphApi":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, path: str, headers: Dict[str, str], body: Any) -> tuple:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, _error(190, "OAuthException")
        if method == "POST" and path.endswith("/media"):
            return self._upload(body)
        if method == "GET":
            return self._media_info(path.rstrip("/").rsplit("/", 1)[-1])
        if method != "POST" or not path.endswith("/messages") or not isinstance(body, dict):
            return 400, _error(100, "OAuthException")
        if body.get("messaging_product") != "whatsapp":
            return 400, _error(100, "OAuthException")
        if body.get("status") == "read":
            return 200, {"success": True}
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault and "code" in fault:
            return fault["status"], _error(fault["code"], "OAuthException")
        if fault:
            return fault["status"], _error(131000 if fault["status"] >= 500 else 130429, "OAuthException")
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to", ""), "wa_id": body.get("to", "")}],
            "messages": [{"id": "wamid.HBgN" + uuid.uuid4().hex.upper()}],
        }

    def _upload(self, form: Any) -> tuple:
        if not isinstance(form, dict) or form.get("messaging_product") != "whatsapp" or "file" not in form:
            return 400, _error(100, "OAuthException")
        data, filename, mime = form["file"]
        if form.get("type") != mime:
            return 400, _error(100, "OAuthException")
        media_id = self.add_media(data, mime, filename)
        with self._lock:
            self.uploads.append(media_id)
        return 200, {"id": media_id}

    def _media_info(self, media_id: str) -> tuple:
        with self._lock:
            media = self.media.get(media_id)
        if media is None:
            return 400, _error(100, "GraphMethodException")
        return 200, {"messaging_product": "whatsapp", "url": f"{self.url}/download/{media_id}",
                     "mime_type": media["mime"], "sha256": hashlib.sha256(media["data"]).hexdigest(),
                     "file_size": len(media["data"]), "id": media_id}

    def _download(self, handler: BaseHTTPRequestHandler) -> bool:
        """The file behind a media URL (to the bearer token only), as Meta's CDN serves it."""
        if not handler.path.startswith("/download/"):
            return False
        with self._lock:
            media = self.media.get(handler.path.rsplit("/", 1)[-1])
        authorized = handler.headers.get("Authorization") == f"Bearer {self.token}"
        status = 401 if not authorized else 404 if media is None else 200
        data = media["data"] if status == 200 else b""
        handler.send_response(status)
        handler.send_header("Content-Type", media["mime"] if status == 200 else "text/plain")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        return True

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                if self.command == "GET" and fake._download(self):
                    return
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = parse_body(self.headers.get("Content-Type", ""), raw)
                headers = dict(self.headers.items())
                status, answer = fake._answer(self.command, self.path, headers, body)
                with fake._lock:
                    fake.requests.append(Recorded(self.command, self.path, headers, body, status, answer))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _error(code: int, kind: str) -> Dict[str, Any]:
    title, details = ERROR_MESSAGES.get(code, ("Something went wrong", "Please try again later"))
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": kind,
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "A" + uuid.uuid4().hex[:22],
        }
    }
