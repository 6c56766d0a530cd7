"""Automatic assignment on the real Redis (bot/desk/assignment.py).

Redis db 14, prefix ``benchassign``, keys deleted afterwards. 20 atendentes
(capacity 5, members of one ``auto`` department, online) and 200 waiting
conversations; prints:
  - fill:    one round handing out the first 100 (two assigners at once, as
             two replicas; ms per hand-out; capacity, order and duplicates checked)
  - latency: steady state, the replicas' assignment loop (woken by the desk's
             events, at least every DESK_ASSIGN_SECONDS):
             an agent closes one (a place frees up) and a new conversation
             arrives; time from the close to the oldest waiting conversation
             being in an agent's hands (p50/p95 over --handoffs)
Usage: .venv/bin/python bench/desk_assign.py [--handoffs 60]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.desk import Desk  # noqa: E402
from bot.desk.assignment import Assigner  # noqa: E402
from channels.desk.assigner import assignment_rounds  # noqa: E402
from testing.latency import percentile  # noqa: E402

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PREFIX = "benchassign"
DEPARTMENT = "bench"


async def clean(client) -> None:
    async for key in client.scan_iter(f"{PREFIX}*"):
        await client.delete(key)


async def main(handoffs: int) -> None:
    clients = [aioredis.Redis.from_url(URL, decode_responses=True) for _ in range(2)]
    await clean(clients[0])
    desk, other = Desk.create(clients[0], PREFIX), Desk.create(clients[1], PREFIX)
    try:
        await desk.departments.create(DEPARTMENT, "Bench")
        await desk.departments.update(DEPARTMENT, assignment="auto")
        names = [f"ag{n:02d}" for n in range(20)]
        await asyncio.gather(*(desk.users.create(n, n, "atendente", "Senha-bench-1") for n in names))
        for name in names:
            await desk.users.update(name, departments=[DEPARTMENT], capacity=5)
            await desk.users.heartbeat(name, "online")
        ids = [(await desk.conversations.open("rest", f"rest:b{n}", "bench", department=DEPARTMENT))[0].id
               for n in range(200)]

        start = time.perf_counter()
        rounds = await asyncio.gather(Assigner(desk).round(), Assigner(other).round())
        took = time.perf_counter() - start
        assigned = sum(a for a, _ in rounds)
        loads = [await desk.conversations.agent_load(n) for n in names]
        held = [c for c in [await desk.conversations.get(i) for i in ids] if c.agent]
        print(f"fill: {assigned} of 200 handed out to 20 agents (capacity 5) in {took * 1000:.0f} ms "
              f"({took * 1000 / max(assigned, 1):.2f} ms each, two assigners at once); "
              f"max load {max(loads)}, oldest first {[c.id for c in held] == ids[:100]}, "
              f"duplicates {len(held) - len({c.id for c in held})}")

        every = desk.settings.assign_seconds
        runner = asyncio.create_task(assignment_rounds(desk))  # what each Rasa replica runs
        waits = []
        for n in range(handoffs):
            busy = await desk.conversations.get(ids[0])  # held since the fill (ids[:100] are held)
            freed = time.time()
            await desk.conversations.close(busy.id, await desk.users.get(busy.agent), "bench")
            ids.remove(busy.id)
            conversation, _ = await desk.conversations.open("rest", f"rest:n{n}", "bench", department=DEPARTMENT)
            ids.append(conversation.id)
            while not (await desk.conversations.get(ids[99])).agent:  # the oldest waiting one
                await asyncio.sleep(0.01)
            waits.append(time.time() - freed)
        runner.cancel()
        print(f"latency: {handoffs} hand-outs (loop woken by events, timer {every} s): "
              f"p50 {percentile(waits, 50) * 1000:.0f} ms, p95 {percentile(waits, 95) * 1000:.0f} ms "
              f"(a place freed -> the oldest waiting conversation held)")
    finally:
        await clean(clients[0])
        for client in clients:
            await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=60)
    asyncio.run(main(parser.parse_args().handoffs))
