"""A local Meta Graph API (WhatsApp Cloud API ``/messages``) recording every request.

Answers like Meta: ``{"messaging_product": "whatsapp", "contacts": [...],
"messages": [{"id": "wamid...."}]}``; a read receipt gets ``{"success": true}``.
``fail_next(n, status)`` answers the next ``n`` sends with HTTP 429/500 and
``error_next(n, code)`` with a Graph error body (e.g. 131047).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

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

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
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
