"""Sizing figures for docs/deployment.md: what one replica carries and what Redis holds.

Starts one action server and one `rasa run` (one Sanic worker each, as in the
image), Redis stores on db TEST_REDIS_DB under a throw-away prefix, then runs
customers through Rasa's REST webhook: each sends six messages a customer might
type (greeting, plans, opening hours, "is this a bot", thanks, bye), one after
another; `--concurrency` customers at a time. Prints:

- turns/s of the replica and turn latency p50/p99 under that load,
- resident memory (RSS) of the Rasa and action-server processes after the load,
- Redis memory the conversations take (``MEMORY USAGE`` of every key under the
  prefix), per conversation and per 1,000 conversations.

    TEST_MODEL=models/isp-....tar.gz .venv/bin/python bench/sizing.py [--customers 200] [--concurrency 20]
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
from typing import List

import aiohttp
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings  # noqa: E402
from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env  # noqa: E402
from testing.rasa_server import RasaServer  # noqa: E402

# Six turns, a few wordings each; nothing that hands over to the desk.
TURNS = [
    ["oi boa noite", "bom diaa", "ola", "opa, tudo certo?"],
    ["quais os planos de voces", "tem plano de fibra de 300 mega?", "qnto custa a internet"],
    ["que horas vcs atendem", "abre domingo?", "horario de atendimento por favor"],
    ["to falando com robo?", "vc e uma pessoa?"],
    ["brigado", "obrigada pela ajuda", "vlw"],
    ["tchau", "flw", "ate logo"],
]


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (Sanic may fork), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def customer(session: aiohttp.ClientSession, url: str, headers: dict, number: int,
                   prefix: str) -> List[float]:
    timings = []
    sender = f"{prefix}-c{number}"
    for turn, wordings in enumerate(TURNS):
        started = time.perf_counter()
        async with session.post(f"{url}/webhooks/rest/webhook", headers=headers,
                                json={"sender": sender, "message": wordings[(number + turn) % len(wordings)]}) as r:
            body = await r.json()
        timings.append(time.perf_counter() - started)
        assert r.status == 200 and body, (r.status, body)
    return timings


async def load(url: str, headers: dict, customers: int, concurrency: int, prefix: str) -> tuple:
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> List[float]:
        async with gate:
            return await customer(session, url, headers, n, prefix)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        started = time.perf_counter()
        results = await asyncio.gather(*(one(n) for n in range(customers)))
        elapsed = time.perf_counter() - started
    return sorted(t for r in results for t in r), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).is_file():
        print("set TEST_MODEL to a trained model file", file=sys.stderr)
        return 2

    base = Settings.from_env().redis
    db = int(os.environ.get("TEST_REDIS_DB", "15"))
    prefix = f"sizing{os.getpid()}"
    action_port = free_port()
    env = project_env(
        REDIS_URL=dataclasses.replace(base, db=int(db)).url,
        REDIS_HOST=base.host, REDIS_PORT=str(base.port), REDIS_DB=str(db), REDIS_PASSWORD=base.password,
        REDIS_KEY_PREFIX=prefix, ISP_BACKEND="demo", SANIC_WORKERS="1", ACTION_SERVER_SANIC_WORKERS="1",
        ISP_DEMO_DB=str(Path(tempfile.mkdtemp()) / "demo.sqlite3"),
        ACTION_PORT=str(action_port), ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        CHAT_RATE_LIMIT_PER_MINUTE="1000000", **fresh_credentials(),
    )
    logs = Path(tempfile.mkdtemp(prefix="bench-sizing-"))
    actions = Service(
        "actions", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", str(action_port)],
        env, logs,
    ).start(f"http://127.0.0.1:{action_port}/health")
    server = RasaServer(Path(model), env, logs)
    server.args = [a for a in server.args if a != "--debug"]  # as in production
    store = redis.Redis(host=base.host, port=base.port, db=db, password=base.password or None)
    try:
        server.start()
        rss_idle = rss_mib(server.process.pid), rss_mib(actions.process.pid)
        asyncio.run(load(server.url, server.chat_headers(), 10, 5, f"{prefix}-warm"))
        timings, elapsed = asyncio.run(
            load(server.url, server.chat_headers(), args.customers, args.concurrency, prefix)
        )
        rss_busy = rss_mib(server.process.pid), rss_mib(actions.process.pid)
        keys = [k for k in store.scan_iter(f"{prefix}:*", count=1000)
                if f"{prefix}-warm" not in k.decode(errors="replace")]
        stored = sum(store.memory_usage(k, samples=0) or 0 for k in keys)
        per_conversation = stored / args.customers
        print(f"model {model}, logs {logs}")
        print(f"{args.customers} customers x {len(TURNS)} turns, {args.concurrency} at a time, one replica")
        print(f"  turns/s          {len(timings) / elapsed:8.1f}")
        print(f"  turn p50 / p99   {statistics.median(timings) * 1000:8.0f} / "
              f"{timings[int(len(timings) * 0.99)] * 1000:.0f} ms")
        print(f"  RSS rasa         {rss_idle[0]:8.0f} MiB idle, {rss_busy[0]:.0f} MiB after the load")
        print(f"  RSS actions      {rss_idle[1]:8.0f} MiB idle, {rss_busy[1]:.0f} MiB after the load")
        print(f"  Redis            {len(keys)} keys, {stored / 1024:.0f} KiB: "
              f"{per_conversation / 1024:.1f} KiB per {len(TURNS)}-turn conversation, "
              f"{per_conversation * 1000 / 1024 / 1024:.1f} MiB per 1,000 conversations")
    finally:
        server.stop()
        actions.stop()
        for key in store.scan_iter(f"{prefix}*", count=1000):
            store.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
