"""A rasa-webchat stand-in for the tests: python-socketio's sync client.

(python-socketio 5.18's AsyncClient needs a newer aiohttp than Rasa pins.)
Each turn ends with the connector's ``typing: false`` event, so ``say``
returns exactly the replies of that turn.
"""
from __future__ import annotations

import queue
import time
from typing import Any, Dict, List, Optional, Tuple

import socketio

EVENTS = ("session_confirm", "bot_uttered", "typing", "error", "connect_error")


class WidgetClient:
    def __init__(self, url: str, transports: Tuple[str, ...] = ("websocket",)):
        self.url = url
        self.transports = list(transports)  # ("polling",): long-polling only, as old proxies force
        self.sio = socketio.Client(reconnection=False)
        self.events: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        for event in EVENTS:
            self.sio.on(event, self._recorder(event))
        self.session_id: Optional[str] = None

    def _recorder(self, event: str):
        def record(*args: Any) -> None:
            self.events.put((event, args[0] if args else None))
        return record

    def connect(self, auth: Optional[Dict] = None, query: str = "") -> "WidgetClient":
        self.sio.connect(
            self.url + query,
            socketio_path="/socket.io",
            transports=self.transports,
            auth=auth,
            wait_timeout=10,
        )
        return self

    def refused(self, **connect_args: Any) -> Any:
        """The server's ``connect_error`` data for a connection it must refuse."""
        try:
            self.connect(**connect_args)
        except socketio.exceptions.ConnectionError:
            return self.next("connect_error", timeout=5)
        self.close()
        raise AssertionError("the connection was accepted")

    def close(self) -> None:
        self.sio.disconnect()

    def next(self, event: str, timeout: float = 60) -> Any:
        """The data of the next ``event``; other events before it are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            name, data = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if name == event:
                return data

    def session(self, session_id: Optional[str] = None) -> str:
        self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = self.next("session_confirm", timeout=10)
        return self.session_id

    def say(self, text: str, timeout: float = 60, **extra: Any) -> List[Dict[str, Any]]:
        """Send ``text``; the bot_uttered messages of this turn, in order."""
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id, **extra})
        return self.turn(timeout)

    def turn(self, timeout: float = 60) -> List[Dict[str, Any]]:
        replies: List[Dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            name, data = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if name == "bot_uttered":
                replies.append(data)
            elif name == "typing" and data == {"typing": False}:
                return replies
            elif name == "error":
                raise AssertionError(f"error event: {data}")

    def drain(self, wait: float = 0.5) -> List[Tuple[str, Any]]:
        """Whatever arrives within ``wait`` seconds."""
        got = []
        deadline = time.monotonic() + wait
        while True:
            try:
                got.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                return got
