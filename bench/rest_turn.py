"""REST turn latency: the chat API (POST /api/v1/chat) beside Rasa's own `rest`
channel (POST /webhooks/rest/webhook), same server, same model, same turn.

Starts an action server and one `rasa run` (Redis tracker and lock stores on
db TEST_REDIS_DB, keys under a throw-away prefix), then sends "oi" (a greeting:
no ERP call) from 1 client and from 10 concurrent clients, alternating the two
channels, and prints p50/p99 and messages/s. The chat API keeps its Redis rate
limit on (set high enough never to trigger) so its cost is counted.

    TEST_MODEL=/tmp/model.tar.gz .venv/bin/python bench/rest_turn.py [--requests 200]
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings  # noqa: E402
from testing.rasa_server import RasaServer  # noqa: E402
from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env  # noqa: E402

CHANNELS = {
    "rest_api (/api/v1/chat)": (
        "/api/v1/chat", lambda sid: {"session_id": sid, "message": "oi"}, lambda body: body["messages"]
    ),
    "rest (/webhooks/rest/webhook)": (
        "/webhooks/rest/webhook", lambda sid: {"sender": sid, "message": "oi"}, lambda body: body
    ),
}
TURNS_PER_SESSION = 10  # new session every 10 turns so trackers stay small and alike


async def client(session: aiohttp.ClientSession, url: str, channel: str, name: str, count: int) -> List[float]:
    path, body, replies = CHANNELS[channel]
    tag = "api" if path.startswith("/api") else "rest"
    timings = []
    for i in range(count):
        started = time.perf_counter()
        async with session.post(url + path, json=body(f"{tag}-{name}-{i // TURNS_PER_SESSION}")) as response:
            payload = await response.json()
        timings.append(time.perf_counter() - started)
        assert response.status == 200 and replies(payload), payload
    return timings


async def measure(url: str, channel: str, clients: int, per_client: int, tag: str) -> Dict[str, float]:
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(client(session, url, channel, f"{tag}-{c}", per_client) for c in range(clients))
        )
        elapsed = time.perf_counter() - started
    timings = sorted(t for r in results for t in r)
    return {
        "p50_ms": statistics.median(timings) * 1000,
        "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))] * 1000,
        "per_s": len(timings) / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="turns per channel and configuration")
    args = parser.parse_args()
    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).is_file():
        print("set TEST_MODEL to a trained model file", file=sys.stderr)
        return 2

    base = Settings.from_env().redis
    db = int(os.environ.get("TEST_REDIS_DB", "15"))
    prefix = f"bench{os.getpid()}"
    action_port = free_port()
    env = project_env(
        REDIS_URL=dataclasses.replace(base, db=int(db)).url,
        REDIS_HOST=base.host, REDIS_PORT=str(base.port), REDIS_DB=str(db), REDIS_PASSWORD=base.password,
        REDIS_KEY_PREFIX=prefix, TRACKER_TTL_SECONDS="600", ISP_BACKEND="demo",
        ISP_DEMO_DB=str(Path(tempfile.mkdtemp()) / "demo.sqlite3"),
        ACTION_PORT=str(action_port), ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        CHAT_RATE_LIMIT_PER_MINUTE="1000000", **fresh_credentials(),
    )
    logs = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    actions = Service(
        "actions", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", str(action_port)],
        env, logs,
    ).start(f"http://127.0.0.1:{action_port}/health")
    server = RasaServer(Path(model), env, logs)
    server.args = [a for a in server.args if a != "--debug"]  # measure as in production
    try:
        server.start()
        print(f"server {server.url}, model {model}, logs {logs}")
        for channel in CHANNELS:  # warm-up
            asyncio.run(measure(server.url, channel, 2, 10, "warm"))
        results: Dict[str, Dict[str, Dict[str, float]]] = {c: {} for c in CHANNELS}
        for clients in (1, 10):
            for channel in CHANNELS:
                per_client = max(1, args.requests // clients)
                results[channel][clients] = asyncio.run(
                    measure(server.url, channel, clients, per_client, f"c{clients}")
                )
        print(f"\n{'channel':32} {'1 client p50':>13} {'10 clients p50':>15} {'p99':>8} {'msg/s':>7}")
        for channel, by_clients in results.items():
            one, ten = by_clients[1], by_clients[10]
            print(f"{channel:32} {one['p50_ms']:10.1f} ms {ten['p50_ms']:12.1f} ms "
                  f"{ten['p99_ms']:5.0f} ms {ten['per_s']:7.1f}")
    finally:
        server.stop()
        actions.stop()
        client_ = redis.Redis(host=base.host, port=base.port, db=db, password=base.password or None)
        for key in client_.scan_iter(f"{prefix}:*"):
            client_.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
