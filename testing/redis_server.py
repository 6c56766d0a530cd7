"""Helpers shared by bench/stores_vs_stock.py and the store tests.

* :class:`RedisServer`: a throwaway ``redis-server`` on a spare port, so a
  test or the bench can kill, restart or freeze (``DEBUG SLEEP``) its own
  Redis without touching the shared one on 6379.
* :class:`SlowActionProxy`: sits between Rasa and the real action server and
  forwards every ``POST /webhook`` unchanged after a delay: a 300 ms action,
  or a turn longer than the lock lifetime, without changing the bot.
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import redis
from aiohttp import ClientSession, ClientTimeout, web

from testing.processes import free_port


class RedisServer:
    """``redis-server`` on 127.0.0.1:<spare port>, data in ``directory``."""

    def __init__(self, directory: Path, port: Optional[int] = None, appendonly: bool = True):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **options) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, **options)

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--save", "", "--protected-mode", "no", "--enable-debug-command", "local"],
            stdout=open(self.directory / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client(socket_connect_timeout=0.5).ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """Stop it abruptly (SIGKILL): what a crash looks like to the clients."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def freeze(self, seconds: float) -> None:
        """Make Redis unresponsive for ``seconds`` (DEBUG SLEEP, in a thread)."""
        client = self.client(socket_timeout=seconds + 5)
        threading.Thread(target=client.execute_command, args=("DEBUG", "SLEEP", seconds), daemon=True).start()
        time.sleep(0.1)


class SlowActionProxy:
    """Forwards action calls to ``target`` (the real action server) after ``delay`` s."""

    def __init__(self, target: str, delay: float = 0.3, port: Optional[int] = None):
        self.target = target.rstrip("/")
        self.delay = delay
        self.calls = 0  # action calls received (forwarded or still waiting)
        self.port = port or free_port()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls += 1
        await asyncio.sleep(self.delay)
        async with ClientSession(timeout=ClientTimeout(total=120)) as session:
            headers = {"Content-Type": "application/json"}
            if "Authorization" in request.headers:  # Rasa's ACTION_SERVER_TOKEN
                headers["Authorization"] = request.headers["Authorization"]
            async with session.post(f"{self.target}/webhook", data=body, headers=headers) as upstream:
                return web.Response(
                    body=await upstream.read(), status=upstream.status, content_type="application/json"
                )

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def start(self) -> "SlowActionProxy":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_post("/webhook", self._forward)
            app.router.add_get("/health", self._health)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)


def run_with_shared_client(coroutine):
    """``coroutine`` on a new event loop, then the shared Redis client that
    ``bot.stores.connection.get_redis`` made for that loop closed and forgotten
    (clients are kept per loop id, and a later loop may get the same id)."""
    from bot.stores import connection

    async def scoped():
        try:
            return await coroutine
        finally:
            client = connection._clients.pop(id(asyncio.get_running_loop()), None)
            if client is not None:
                await client.close()
    return asyncio.run(scoped())
