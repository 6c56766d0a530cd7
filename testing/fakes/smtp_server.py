"""A local SMTP server (aiosmtpd) that records every message it accepts.

Stands in for the provider's mail relay in tests: ``SMTP_HOST``/``SMTP_PORT``
point at it and a test reads what the customer would have received.
"""
from __future__ import annotations

import threading
import time
from email import message_from_bytes
from email.message import Message
from typing import List, Optional

from aiosmtpd.controller import Controller

from testing.processes import free_port


class _Recorder:
    def __init__(self) -> None:
        self.messages: List[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


class FakeSmtpServer:
    def __init__(self) -> None:
        self._recorder = _Recorder()
        self.port = free_port()
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port)

    def start(self) -> "FakeSmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def messages(self, to: Optional[str] = None) -> List[Message]:
        with self._recorder.lock:
            found = list(self._recorder.messages)
        return [m for m in found if to is None or m["To"] == to]

    def wait_for(self, to: str, count: int, timeout: float = 30.0) -> List[Message]:
        """At least ``count`` messages to ``to``; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} message(s) to {to} expected within {timeout}s, got {len(self.messages(to))}")
