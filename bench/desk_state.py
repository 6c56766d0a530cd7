"""Cost of the handoff desk's state operations on the real Redis (bot/desk).

Redis db 14, prefix ``benchdesk``, keys deleted afterwards. Prints p50/p99:
  - open:         a handoff queues a customer (Lua, 4 keys)
  - queue_status: position + estimated wait with N waiting and 20 agents online
  - claim race:   20 agents on 20 connections claim N conversations at once
                  (each tries every conversation: N*20 attempts, N winners)
  - close:        an agent closes a conversation
  - login:        argon2id verification + JWT (the CPU cost of a login)
  - verify:       JWT check + revocation + agent lookup (every API call)
Usage: .venv/bin/python bench/desk_state.py [conversations]   (default 300)
"""
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.desk import Desk  # noqa: E402
from bot.desk.auth import AuthSettings  # noqa: E402
from bot.desk.errors import AlreadyClaimed  # noqa: E402

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PREFIX = "benchdesk"


def report(name, samples):
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<14} n={len(ms):<5} p50 {statistics.median(ms):7.2f} ms   p99 {p99:7.2f} ms")


async def timed(samples, coroutine):
    start = time.perf_counter()
    try:
        return await coroutine
    finally:
        samples.append(time.perf_counter() - start)


async def main(count: int) -> None:
    clients = [aioredis.Redis.from_url(URL, decode_responses=True) for _ in range(21)]
    desk = Desk.create(clients[0], PREFIX)
    try:
        names = [f"agente{n:02d}" for n in range(20)]
        agents = [await desk.users.create(name, name.title(), "atendente", "Senha-bench-123")
                  for name in names]
        for name in names:
            await desk.users.heartbeat(name)
        opened = []
        ids = [(await timed(opened, desk.conversations.open(
            "rest_api", f"api:bench{n}", "request_human", priority=random.choice((0, 0, 5)))))[0].id
            for n in range(count)]
        report("open", opened)
        status = []
        for conversation_id in random.sample(ids, min(200, count)):
            await timed(status, desk.conversations.queue_status(conversation_id))
        report("queue_status", status)

        attempts, wins = [], 0

        async def agent_loop(client, agent):
            nonlocal wins
            store = Desk.create(client, PREFIX).conversations
            for conversation_id in random.sample(ids, len(ids)):
                try:
                    await timed(attempts, store.claim(conversation_id, agent))
                    wins += 1
                except AlreadyClaimed:
                    pass

        start = time.perf_counter()
        await asyncio.gather(*(agent_loop(c, a) for c, a in zip(clients[1:], agents)))
        elapsed = time.perf_counter() - start
        report("claim attempt", attempts)
        print(f"claim race     {len(attempts)} attempts, {wins} winners for {count} "
              f"conversations in {elapsed:.2f} s ({len(attempts) / elapsed:.0f} attempts/s)")
        assert wins == count

        closing = []
        for conversation in await desk.conversations.list(status="in_progress", limit=count):
            owner = next(a for a in agents if a.username == conversation.agent)
            await timed(closing, desk.conversations.close(conversation.id, owner, "ok"))
        report("close", closing)

        auth = desk.auth(AuthSettings("b" * 32, 3600, 1000, 300))
        logins, checks = [], []
        for _ in range(10):
            session = await timed(logins, auth.login("agente00", "Senha-bench-123", "127.0.0.1"))
        for _ in range(500):
            await timed(checks, auth.verify(session.token))
        report("login", logins)
        report("verify", checks)
    finally:
        async for key in clients[0].scan_iter(f"{PREFIX}:*"):
            await clients[0].delete(key)
        for client in clients:
            await client.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
