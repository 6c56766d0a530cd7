"""WhatsApp webhook acknowledgement latency while the bot is busy.

Meta wants the webhook's 200 fast (median under 250 ms; slow deliveries are
retried). The connector verifies, de-duplicates in Redis and answers before
any NLU runs; this measures that while the server is busy with turns:
  - background: 4 REST clients talk to the bot without pause (invoice
    conversations by CPF through /webhooks/rest/webhook);
  - foreground: N signed deliveries (text messages from 50 customers, each
    one a full turn with replies to the Graph API) sent by 4 clients;
it prints p50/p95/p99/max of the time to the 200, then how long the turns
of those deliveries took to drain (every read receipt at the local Graph API).

Usage:
  .venv/bin/python bench/whatsapp_ack.py MODEL.tar.gz [deliveries]
      starts the action server, `rasa run` (Redis db 14, keys deleted
      afterwards) and a local Graph API itself; options: --rate (deliveries
      per second), --rest-rate R1 R2... (one run per background load),
      --workers (SANIC_WORKERS)
  .venv/bin/python bench/whatsapp_ack.py --url http://host:5005 --secret APP_SECRET [deliveries]
      against a running server (no drain figure)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from channels.whatsapp.signature import sign  # noqa: E402
from testing.latency import percentile  # noqa: E402
from testing.fakes import graph_api as graph_fake  # noqa: E402
from testing.fakes.graph_api import FakeGraphApi  # noqa: E402
from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env  # noqa: E402

CUSTOMERS = 50
PREFIX = "benchwa"


def delivery(n: int) -> bytes:
    wa_id = f"5521990{n % CUSTOMERS:06d}"
    body = "quero a segunda via do boleto" if n % 2 else "oi, boa noite"
    return envelope(wa_id, {"type": "text", "text": {"body": body}})


def envelope(wa_id: str, content: dict) -> bytes:
    """Meta's webhook notification of one message (``content``: type and its object) from ``wa_id``."""
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "551140040000", "phone_number_id": graph_fake.PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Cliente"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.bench{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), **content}],
        }}]}],
    }).encode()


def paced(rate: float, count: Optional[int], work, stop: threading.Event) -> list:
    """Call ``work(n)`` at a steady ``rate`` per second (open loop: a slow answer
    does not delay the next call); the results, in order."""
    futures, started = [], time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        n = 0
        while (count is None or n < count) and not stop.is_set():
            delay = started + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(work, n))
            n += 1
        return [f.result() for f in futures]


def rest_turn(base: str, turns: List[int]):
    script = ["oi", "manda o boleto", "529.982.247-25", "obrigado"]
    local = threading.local()

    def turn(n: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        sender = f"bench-rest-{n // 4 % 40}"
        answer = session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": script[n % 4]},
                              timeout=120)
        turns.append(answer.status_code)

    return turn


def ack(base: str, secret: str):
    local = threading.local()

    def post(n: int) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = delivery(n)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)}
        start = time.perf_counter()
        answer = session.post(f"{base}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - start) * 1000
        assert answer.status_code == 200, answer.text
        return elapsed

    return post



def run(base: str, secret: str, deliveries: int, rate: float, rest_rate: float,
        graph: Optional[FakeGraphApi]) -> None:
    stop, turns = threading.Event(), []
    background = None
    if rest_rate > 0:
        background = threading.Thread(target=paced, args=(rest_rate, None, rest_turn(base, turns), stop))
        background.start()
        time.sleep(3)  # the background conversations are under way
    started, turns_before = time.monotonic(), len(turns)
    timings = paced(rate, deliveries, ack(base, secret), threading.Event())
    sent_for = time.monotonic() - started
    drained = None
    if graph is not None:
        graph.wait_for(lambda: len(graph.sent(kind="read")) >= deliveries, timeout=900)
        drained = time.monotonic() - started
    answered = turns[turns_before:]
    rest_turns = answered.count(200)
    refused = ", ".join(f"{count} x {status}" for status, count in sorted(Counter(answered).items()) if status != 200)
    stop.set()
    if background is not None:
        background.join()
    print(f"{deliveries} deliveries at {rate:g}/s (from {CUSTOMERS} customers, each a turn) in {sent_for:.1f} s; "
          f"background REST turns offered at {rest_rate:g}/s, {rest_turns} answered meanwhile"
          f"{f' (refused, not counted: {refused})' if refused else ''}; {os.cpu_count()} cores")
    print(f"webhook ack ms: p50 {statistics.median(timings):.1f}  p95 {percentile(timings, 95):.1f}  "
          f"p99 {percentile(timings, 99):.1f}  max {max(timings):.1f}")
    if drained is not None:
        replies = len(graph.sent()) - len(graph.sent(kind="read"))
        print(f"all {deliveries} WhatsApp turns handled {drained:.1f} s after the first delivery "
              f"({replies} bot messages at the Graph API)")


@contextmanager
def whatsapp_stack(model: str, graph: FakeGraphApi, workers: int = 1, **extra_env: str) -> Iterator[str]:
    """The action server and ``rasa run`` (Redis db 14, keys deleted afterwards) with
    WhatsApp pointed at ``graph``; yields the Rasa server's base URL."""
    work = Path(tempfile.mkdtemp())
    action_port, rasa_port = free_port(), free_port()
    env = project_env(
        REDIS_URL="redis://127.0.0.1:6379/14", REDIS_HOST="127.0.0.1", REDIS_PORT="6379", REDIS_DB="14",
        REDIS_PASSWORD="", REDIS_KEY_PREFIX=PREFIX, TRACKER_TTL_SECONDS="600",
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"),
        WHATSAPP_API_URL=graph.url, WHATSAPP_APP_SECRET=graph_fake.APP_SECRET,
        WHATSAPP_ACCESS_TOKEN=graph_fake.ACCESS_TOKEN, WHATSAPP_PHONE_NUMBER_ID=graph_fake.PHONE_NUMBER_ID,
        SANIC_WORKERS=str(workers), **fresh_credentials(),
        CHAT_RATE_LIMIT_PER_MINUTE="0",  # a capacity bench: the background load must not be 429s
        **extra_env,
    )
    actions = Service("actions", [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(action_port),
                                  "--logging-config-file", "logging.yml"], env, work)
    rasa = Service("rasa", [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(rasa_port),
                            "--model", str(Path(model).resolve()), "--endpoints", "endpoints.yml",
                            "--credentials", "credentials.yml", "--logging-config-file", "logging.yml",
                            "--auth-token", env["RASA_API_TOKEN"]],
                   env, work)
    try:
        actions.start(f"http://127.0.0.1:{action_port}/health")
        rasa.start(f"http://127.0.0.1:{rasa_port}/status?token={env['RASA_API_TOKEN']}")
        yield f"http://127.0.0.1:{rasa_port}"
    finally:
        rasa.stop()
        actions.stop()
        client = redis.Redis(db=14)
        for key in client.scan_iter(f"{PREFIX}:*"):
            client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model .tar.gz (starts its own servers)")
    parser.add_argument("deliveries", nargs="?", type=int, default=200)
    parser.add_argument("--rate", type=float, default=4.0, help="deliveries per second")
    parser.add_argument("--rest-rate", type=float, nargs="+", default=[4.0],
                        help="background REST turns per second (one run per value)")
    parser.add_argument("--workers", type=int, default=1, help="SANIC_WORKERS of the server started")
    parser.add_argument("--url", help="a running Rasa server instead")
    parser.add_argument("--secret", default=os.environ.get("WHATSAPP_APP_SECRET", ""))
    args = parser.parse_args()
    if args.url:
        for rest_rate in args.rest_rate:
            run(args.url.rstrip("/"), args.secret, args.deliveries, args.rate, rest_rate, None)
        return
    if not args.model:
        parser.error("give a model file or --url")

    graph = FakeGraphApi(graph_fake.ACCESS_TOKEN).start()
    print(f"rasa run with SANIC_WORKERS={args.workers}")
    try:
        with whatsapp_stack(args.model, graph, args.workers) as base:
            for rest_rate in args.rest_rate:
                graph.requests.clear()
                run(base, graph_fake.APP_SECRET, args.deliveries, args.rate, rest_rate, graph)
    finally:
        graph.stop()


if __name__ == "__main__":
    main()
