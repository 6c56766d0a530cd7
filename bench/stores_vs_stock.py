"""Stock Rasa Redis stores vs ours (bot/stores/), same model, same machine.

    .venv/bin/python bench/stores_vs_stock.py MODEL.tar.gz [--turns 200] [--customers 50]

Starts a redis-server of its own on a spare port, the real action server
behind testing.redis_server.SlowActionProxy (adds a delay to every action
call), and one `rasa run` per variant: stock (Redis tracker + lock store),
ours with 1 Sanic worker, ours with SANIC_WORKERS=2 (one per core). Prints:

* long conversation: turn p50 over turns 1-20 and over the last 20 turns;
* burst: 5 messages of one customer at once, each running a 300 ms action;
  when each reply arrived;
* throughput: N customers, each sending messages back to back: messages/s,
  p50 and p99 latency;
* Redis frozen (DEBUG SLEEP 15): one message through /api/v1/chat and
  Rasa's /webhooks/rest/webhook, and /health, while frozen: status and time.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.latency import percentile  # noqa: E402
from testing.redis_server import RedisServer, SlowActionProxy, free_port  # noqa: E402
from testing.processes import VENV_BIN, Service, fresh_credentials, project_env  # noqa: E402

API_KEY = "bench-key"
CREDENTIALS = "rest:\nchannels.rest.RestApiInput:\n"
RESPONSE_ONLY = ["/greet", "/ask_business_hours", "/thank"]


def action_endpoint(action_url: str) -> str:
    """Rasa sends ACTION_SERVER_TOKEN (from the environment) to the action server."""
    return (f"action_endpoint:\n  url: {action_url}\n"
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n")


def endpoints(variant: str, redis: RedisServer, action_url: str) -> str:
    if variant == "stock":
        store = f"  type: redis\n  url: 127.0.0.1\n  port: {redis.port}\n  db: 0\n  key_prefix: stock\n"
        return (f"{action_endpoint(action_url)}tracker_store:\n{store}  record_exp: 3600\n"
                f"lock_store:\n{store}")
    store = f"  url: {redis.url}\n  key_prefix: ours\n"
    return (f"{action_endpoint(action_url)}"
            f"tracker_store:\n  type: bot.stores.tracker.AppendOnlyRedisTrackerStore\n{store}  record_exp: 3600\n"
            f"lock_store:\n  type: bot.stores.lock.RedisTicketLockStore\n{store}")



class Rasa:
    def __init__(self, name: str, model: str, endpoints_file: Path, credentials: Path, env: Dict[str, str],
                 log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = Service(
            name,
            [str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(self.port), "--model", model,
             "--endpoints", str(endpoints_file), "--credentials", str(credentials),
             "--logging-config-file", "logging.yml", "--auth-token", env["RASA_API_TOKEN"]],
            env, log_dir,
        )
        self.token = env["RASA_API_TOKEN"]

    def __enter__(self) -> "Rasa":
        self.service.start(f"{self.url}/status?token={self.token}", timeout=300)
        return self

    def __exit__(self, *exc) -> None:
        self.service.stop()

    def send(self, sender: str, text: str, timeout: float = 120) -> Tuple[float, list]:
        started = time.perf_counter()
        response = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                 headers={"Authorization": f"Bearer {API_KEY}"}, timeout=timeout)
        response.raise_for_status()
        return time.perf_counter() - started, response.json()


def long_conversation(rasa: Rasa, turns: int) -> str:
    sender = f"long-{time.time_ns()}"
    times = [rasa.send(sender, RESPONSE_ONLY[n % 3])[0] * 1000 for n in range(turns)]
    first, last = statistics.median(times[:20]), statistics.median(times[-20:])
    return (f"long conversation: turn p50 {first:.0f} ms (turns 1-20), {last:.0f} ms "
            f"(turns {turns - 19}-{turns}), ratio {last / first:.2f}")


def burst(rasa: Rasa, proxy: SlowActionProxy) -> str:
    sender = f"burst-{time.time_ns()}"
    rasa.send(sender, "/greet")
    proxy.delay = 0.3
    started = time.perf_counter()
    arrivals: List[float] = []
    empties = 0

    def one(_: int) -> None:
        nonlocal empties
        _, replies = rasa.send(sender, "/ask_plans")
        arrivals.append((time.perf_counter() - started) * 1000)
        empties += not replies

    try:
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            list(pool.map(one, range(5)))
    finally:
        proxy.delay = 0
    return (f"burst of 5 (300 ms action): replies at {', '.join(f'{a:.0f}' for a in sorted(arrivals))} ms; "
            f"empty replies {empties}")


def throughput(rasa: Rasa, customers: int, per_customer: int) -> str:
    latencies: List[float] = []
    errors = 0
    lock = threading.Lock()

    def customer(c: int) -> None:
        nonlocal errors
        for n in range(per_customer):
            try:
                elapsed, replies = rasa.send(f"load-{c}-{time.time_ns()}" if n == 0 else f"load-{c}",
                                             RESPONSE_ONLY[n % 3])
                with lock:
                    latencies.append(elapsed * 1000)
                    errors += not replies
            except requests.RequestException:
                with lock:
                    errors += 1

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(customers) as pool:
        list(pool.map(customer, range(customers)))
    wall = time.perf_counter() - started
    return (f"{customers} customers x {per_customer} messages: {len(latencies) / wall:.1f} messages/s, "
            f"p50 {percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
            f"errors/empty {errors}")


def frozen(rasa: Rasa, redis: RedisServer) -> str:
    sender = f"frozen-{time.time_ns()}"
    rasa.send(sender, "/greet")
    requests.post(f"{rasa.url}/api/v1/chat", json={"session_id": sender, "message": "/greet"},
                  headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    redis.freeze(15)
    results: Dict[str, str] = {}

    def timed(name: str, call) -> None:
        started = time.perf_counter()
        try:
            response = call()
            body = response.text[:60].replace("\n", " ")
            results[name] = f"HTTP {response.status_code} {body!r} in {(time.perf_counter() - started) * 1000:.0f} ms"
        except requests.RequestException as error:
            results[name] = f"{type(error).__name__} after {(time.perf_counter() - started) * 1000:.0f} ms"

    calls = {
        "/api/v1/chat": lambda: requests.post(
            f"{rasa.url}/api/v1/chat", json={"session_id": sender, "message": "/thank"},
            headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60),
        "/webhooks/rest/webhook": lambda: requests.post(
            f"{rasa.url}/webhooks/rest/webhook", json={"sender": sender, "message": "/thank"},
            headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60),
        "/health": lambda: requests.get(f"{rasa.url}/health", timeout=60),
    }
    threads = [threading.Thread(target=timed, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    time.sleep(max(0.0, 16 - 0.2))  # let the freeze end before the next variant
    return "Redis frozen 15 s: " + "; ".join(f"{name} -> {result}" for name, result in results.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--per-customer", type=int, default=6)
    parser.add_argument("--variants", default="stock,ours,ours-2-workers")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stores-bench-"))
    redis = RedisServer(work / "redis", appendonly=False).start()
    action_port = free_port()
    base_env = project_env(
        REDIS_URL=redis.url, REDIS_KEY_PREFIX="bench", REDIS_TIMEOUT_SECONDS="2",
        CHAT_API_KEYS=API_KEY, CHAT_RATE_LIMIT_PER_MINUTE="1000000",
        ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"), ACTION_PORT=str(action_port),
        **fresh_credentials(),
    )
    actions = Service("actions", [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                                  "--port", str(action_port)], base_env, work)
    actions.start(f"http://127.0.0.1:{action_port}/health")
    proxy = SlowActionProxy(f"http://127.0.0.1:{action_port}", delay=0).start()
    credentials = work / "credentials.yml"
    credentials.write_text(CREDENTIALS)
    print(f"stores_vs_stock: model {args.model}, logs in {work}")
    try:
        for variant in args.variants.split(","):
            store = "stock" if variant == "stock" else "ours"
            workers = "2" if variant.endswith("2-workers") else "1"
            endpoints_file = work / f"endpoints-{variant}.yml"
            endpoints_file.write_text(endpoints(store, redis, proxy.url))
            env = dict(base_env, SANIC_WORKERS=workers, ACTION_SERVER_URL=proxy.url)
            with Rasa(f"rasa-{variant}", args.model, endpoints_file, credentials, env, work) as rasa:
                rasa.send("warm-up", "/greet")
                print(f"\n== {variant} (SANIC_WORKERS={workers})", flush=True)
                if workers == "1":
                    print(long_conversation(rasa, args.turns), flush=True)
                    print(burst(rasa, proxy), flush=True)
                print(throughput(rasa, args.customers, args.per_customer), flush=True)
                print(frozen(rasa, redis), flush=True)
    finally:
        proxy.stop()
        actions.stop()
        redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
