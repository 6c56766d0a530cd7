"""An atendente for the desk tests: HTTP API with requests, /desk/ws with websocket-client.

Agents are created directly in the test Redis through ``bot.desk`` (as
``python -m bot.desk create-user`` would), then log in over HTTP like the console.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import requests
import websocket
from redis import asyncio as aioredis

from bot.desk import Desk

PASSWORD = "Senha-de-teste-123"


def create_agent(redis_url: str, prefix: str, role: str = "atendente",
                 username: Optional[str] = None) -> str:
    username = username or f"{role[:3]}{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            await Desk.create(client, prefix).users.create(username, f"Agente {username}", role, PASSWORD)
        finally:
            await client.close()

    asyncio.run(create())
    return username


class DeskAgent:
    def __init__(self, server, username: str, password: str = PASSWORD):
        self.server = server
        self.username = username
        answer = requests.post(f"{server.url}/desk/api/auth/login",
                               json={"username": username, "password": password}, timeout=30)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["token"]
        self.ws: Optional[websocket.WebSocket] = None

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.server.url}/desk/api{path}", headers=headers,
                                timeout=60, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs) -> Dict[str, Any]:
        answer = self.api(method, path, **kwargs)
        assert answer.status_code == status, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else {}

    def online(self) -> "DeskAgent":
        self.ok("POST", "/me/status", json={"status": "online"})
        return self

    def connect(self) -> "DeskAgent":
        url = self.server.url.replace("http", "ws") + f"/desk/ws?token={self.token}"
        self.ws = websocket.create_connection(url, timeout=30)
        self.ws.send(json.dumps({"type": "ping"}))
        self.event("pong")  # subscribed and answering
        return self

    def send(self, kind: str, **data: Any) -> None:
        self.ws.send(json.dumps({"type": kind, "data": data}))

    def event(self, kind: str, check: Callable[[Dict[str, Any]], bool] = lambda data: True,
              timeout: float = 30) -> Dict[str, Any]:
        """The data of the next ``kind`` frame passing ``check`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        seen: List[str] = []
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                frame = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            seen.append(frame["type"])
            if frame["type"] == kind and check(frame["data"]):
                return frame["data"]
        raise AssertionError(f"no {kind} frame in {timeout}s (saw {seen})")

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()

    def find_queued(self, sender_id: str, timeout: float = 30) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.ok("GET", "/queue")["queue"]:
                if item["sender_id"] == sender_id:
                    return item
            time.sleep(0.2)
        raise AssertionError(f"{sender_id} never reached the queue")

    def customer_message(self, conversation_id: str, text: str) -> Dict[str, Any]:
        return self.event("new_message", lambda d: d["conversation_id"] == conversation_id
                          and d["message"]["author"] == "customer" and d["message"]["text"] == text)
