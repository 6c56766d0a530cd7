"""Many concurrent socket.io widget sessions on one Rasa process, each answered.

Starts the real action server and one `rasa run` with only the socket.io
connector (channels/socketio/, AsyncRedisManager on, Redis db 14, keys and
prefix "bench"), then, from one asyncio loop:
  1. opens N websocket connections speaking Engine.IO v4 / Socket.IO v5 text
     frames (the `websockets` library, as a browser's socket.io-client does
     after its upgrade), each with its own session (session_request ->
     session_confirm), and keeps them all open, answering the server's pings;
  2. reads the Rasa process's resident memory (VmRSS) before and after, so
     memory per connection = (connected - before) / N;
  3. sends one message ("oi") on every connection at once and waits for every
     session's answer (a bot_uttered with quick_replies, then typing false).
Raises this process's open-files limit to the hard limit first (the servers
inherit it) and prints it.
Usage: .venv/bin/python bench/socketio_sessions.py MODEL.tar.gz [sessions] [message]
"""
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from testing.processes import Service, free_port, fresh_credentials, project_env  # noqa: E402

CONNECTING_AT_ONCE = 100  # handshakes in flight (Sanic's listen backlog is 100)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Session:
    """One widget: an Engine.IO websocket with a Socket.IO session on it."""

    def __init__(self, url: str, session_id: str):
        self.url, self.session_id = url, session_id
        self.ws = None
        self.confirmed = asyncio.Event()
        self.answered = asyncio.Event()
        self.sent_at = self.answer_at = 0.0
        self.replies = []
        self.errors = []

    async def open(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=2 ** 20, ping_interval=None,
                                           open_timeout=60, close_timeout=5)
        opened = await self.ws.recv()
        assert opened.startswith("0"), opened  # Engine.IO open packet
        await self.ws.send("40")  # Socket.IO connect, default namespace
        asyncio.ensure_future(self.read())
        await self.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(self.confirmed.wait(), 60)

    async def emit(self, event: str, data) -> None:
        await self.ws.send("42" + json.dumps([event, data]))

    async def read(self) -> None:
        try:
            async for frame in self.ws:
                if frame == "2":  # Engine.IO ping: answer or be dropped
                    await self.ws.send("3")
                elif frame.startswith("42"):
                    event, *args = json.loads(frame[2:])
                    if event == "session_confirm":
                        self.confirmed.set()
                    elif event == "bot_uttered":
                        self.replies.append(args[0])
                    elif event == "typing" and args[0] == {"typing": False} and self.replies:
                        self.answer_at = time.perf_counter()
                        self.answered.set()
                    elif event == "error":
                        self.errors.append(args[0])
                        self.answered.set()
        except websockets.ConnectionClosed as closed:
            self.errors.append(f"closed: {closed}")
            self.answered.set()
            self.confirmed.set()

    async def ask(self, message: str) -> None:
        self.sent_at = time.perf_counter()
        await self.emit("user_uttered", {"message": message, "session_id": self.session_id,
                                         "customData": {"language": "pt-BR"}})


async def report_progress(sessions, started: float) -> None:
    while True:
        await asyncio.sleep(15)
        done = sum(s.answered.is_set() for s in sessions)
        print(f"  {time.perf_counter() - started:.0f} s: {done}/{len(sessions)} answered", flush=True)


async def run(url: str, rasa_pid: int, count: int, message: str, prefix: str) -> None:
    """Open ``count`` sessions, then one turn on each; prints the figures."""
    idle = rss_kb(rasa_pid)
    sessions = [Session(url, f"{prefix}-{n}") for n in range(count)]
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)

    async def open_one(session: Session) -> None:
        async with gate:
            await session.open()

    started = time.perf_counter()
    await asyncio.gather(*(open_one(s) for s in sessions))
    connect_s = time.perf_counter() - started
    await asyncio.sleep(3)
    connected = rss_kb(rasa_pid)
    print(f"connected {count} sessions in {connect_s:.1f} s; Rasa RSS {idle / 1024:.0f} MB idle -> "
          f"{connected / 1024:.0f} MB connected = {(connected - idle) / count:.1f} KB per connection", flush=True)

    started = time.perf_counter()
    await asyncio.gather(*(s.ask(message) for s in sessions))
    progress = asyncio.ensure_future(report_progress(sessions, started))
    await asyncio.wait_for(asyncio.gather(*(s.answered.wait() for s in sessions)), 1800)
    progress.cancel()
    total_s = time.perf_counter() - started
    after = rss_kb(rasa_pid)
    failed = [s for s in sessions if s.errors or not any("quick_replies" in r for r in s.replies)]
    latencies = sorted(s.answer_at - s.sent_at for s in sessions if not s.errors)
    print(f"answered {count - len(failed)}/{count} sessions ({message!r}) in {total_s:.1f} s = "
          f"{count / total_s:.0f} turns/s; answer latency p50 {statistics.median(latencies):.1f} s, "
          f"max {latencies[-1]:.1f} s; Rasa RSS after the turns {after / 1024:.0f} MB "
          f"({(after - idle) / count:.1f} KB per session)")
    if failed:
        print(f"failures (first 3): {[s.errors or s.replies for s in failed[:3]]}")
    for s in sessions:
        await s.ws.close()


def main() -> None:
    model = Path(sys.argv[1]).resolve()
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    message = sys.argv[3] if len(sys.argv) > 3 else "oi"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"open files limit: {soft} -> {hard} (bench and servers)", flush=True)
    work = Path(tempfile.mkdtemp())
    credentials = work / "credentials.yml"
    credentials.write_text("channels.socketio.SocketIOInput:\n")
    action_port, rasa_port = free_port(), free_port()
    env = project_env(
        REDIS_URL="redis://127.0.0.1:6379/14", REDIS_HOST="127.0.0.1", REDIS_PORT="6379",
        REDIS_DB="14", REDIS_PASSWORD="", REDIS_KEY_PREFIX="bench", TRACKER_TTL_SECONDS="600",
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"), **fresh_credentials(),
    )
    rasa_bin = str(ROOT / ".venv/bin/rasa")
    actions = Service("actions", [rasa_bin, "run", "actions", "--port", str(action_port)], env, work)
    rasa = Service("rasa", [rasa_bin, "run", "--enable-api", "--port", str(rasa_port),
                            "--model", str(model), "--endpoints", "endpoints.yml",
                            "--credentials", str(credentials), "--auth-token", env["RASA_API_TOKEN"]],
                   env, work)
    actions.start(f"http://127.0.0.1:{action_port}/health")
    rasa.start(f"http://127.0.0.1:{rasa_port}/status?token={env['RASA_API_TOKEN']}")
    try:
        url = f"ws://127.0.0.1:{rasa_port}/socket.io/?EIO=4&transport=websocket"
        print("warm-up (one session: model, stores, Redis manager):", flush=True)
        asyncio.run(run(url, rasa.process.pid, 1, message, "warmup"))
        print(f"{count} sessions:", flush=True)
        asyncio.run(run(url, rasa.process.pid, count, message, "bench"))
    finally:
        rasa.stop()
        actions.stop()
        client = redis.Redis(db=14)
        for key in client.scan_iter("bench*"):
            client.delete(key)


if __name__ == "__main__":
    main()
