"""This project vs stock Rasa 3.6, trained on the same data, in one script.

    .venv/bin/python bench/vs_stock.py [MODEL.tar.gz] [--customers 50] [--per-customer 6]

Stock is what `rasa init` gives: no pipeline or policies in config.yml (Rasa
fills in DIET, TED, UnexpecTED, Memoization and Rule), `language: pt`, Rasa's
`rest:` channel, `type: redis` tracker and lock stores. Ours is `make run`:
the project's config.yml, credentials.yml and endpoints.yml, one Sanic worker
per core (and, for reference, one worker). Both call the same action server,
answering from the demo ERP (STEP_UP_ACTIONS=none: a typed CPF is answered at
once), with the same redis-server of the bench's own.

The load is realistic text (testing/conversations.py, never training data):
N customers at once, each sending its messages back to back through
/webhooks/rest/webhook. Prints per server: messages/s, latency percentiles,
Rasa-process CPU per turn and RSS (from /proc), REST p50 with 10 clients;
then NLU intent accuracy and macro F1 of both pipelines on the same held-out
20 % of data/ (`rasa data split nlu`, seed 7, each trained on the other 80 %).
The last line is ``throughput: N.NNx stock`` (ours with `make run` defaults).

The stock model and the held-out models are trained once and kept in models/
under a hash of what they were trained from (a stock training is minutes).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.conversations import CONVERSATIONS  # noqa: E402
from testing.latency import percentile, summary  # noqa: E402
from testing.process_usage import cpu_seconds, rss_megabytes  # noqa: E402
from testing.processes import VENV_BIN, Service, fresh_credentials, project_env  # noqa: E402
from testing.redis_server import RedisServer, free_port  # noqa: E402

API_KEY = "bench-key-" + "0" * 32
MODELS = ROOT / "models"
# `rasa init`'s config.yml with its comments dropped: Rasa chooses the pipeline
# and policies (rasa/engine/recipes/config_files/default_config.yml).
STOCK_CONFIG = "recipe: default.v1\nlanguage: pt\nassistant_id: stock-bench\npipeline:\npolicies:\n"
SEED = "7"


def rasa(*args: str, env: Dict[str, str]) -> float:
    """Runs ``rasa <args>`` in the checkout; its wall time in seconds."""
    started = time.perf_counter()
    result = subprocess.run([str(VENV_BIN / "rasa"), *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"rasa {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def data_hash(*extra: str) -> str:
    digest = hashlib.sha256()
    for path in sorted([ROOT / "domain.yml", *(ROOT / "data").rglob("*.yml")]):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:12]


def stock_model(work: Path, env: Dict[str, str]) -> Path:
    config = work / "stock-config.yml"
    config.write_text(STOCK_CONFIG)
    model = MODELS / f"stock-{data_hash(STOCK_CONFIG)}.tar.gz"
    if model.exists():
        print(f"stock model: {model.name} (cached)", flush=True)
    else:
        seconds = rasa("train", "--config", str(config), "--data", "data", "--domain", "domain.yml",
                       "--out", str(MODELS), "--fixed-model-name", model.name[:-7], env=env)
        print(f"stock model: {model.name}, trained in {seconds:.0f} s", flush=True)
    return model


def heldout_scores(work: Path, env: Dict[str, str]) -> Dict[str, Tuple[float, float]]:
    """Intent accuracy and macro F1 of each pipeline on the same held-out split."""
    split = work / "split"
    rasa("data", "split", "nlu", "--nlu", "data", "--training-fraction", "0.8", "--random-seed", SEED,
         "--out", str(split), env=env)
    configs = {"ours": (ROOT / "config.yml").read_text(), "stock": STOCK_CONFIG}
    scores = {}
    for name, text in configs.items():
        config = work / f"heldout-{name}-config.yml"
        config.write_text(text)
        model = MODELS / f"heldout-{name}-{data_hash(text, SEED)}.tar.gz"
        if not model.exists():
            rasa("train", "nlu", "--config", str(config), "--nlu", str(split / "training_data.yml"),
                 "--out", str(MODELS), "--fixed-model-name", model.name[:-7], env=env)
        out = work / f"results-{name}"
        rasa("test", "nlu", "--model", str(model), "--nlu", str(split / "test_data.yml"), "--out", str(out),
             env=env)
        report = json.loads((out / "intent_report.json").read_text())
        scores[name] = (report["accuracy"], report["macro avg"]["f1-score"])
    return scores


class Server:
    """One `rasa run`, its messages sent to /webhooks/rest/webhook."""

    def __init__(self, name: str, model: Path, endpoints: Path, credentials: Path, env: Dict[str, str],
                 work: Path):
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.service = Service(name, [
            str(VENV_BIN / "rasa"), "run", "--enable-api", "--port", str(port), "--model", str(model),
            "--endpoints", str(endpoints), "--credentials", str(credentials),
            "--logging-config-file", "logging.yml", "--auth-token", env["RASA_API_TOKEN"]], env, work)
        self.token = env["RASA_API_TOKEN"]
        self.local = threading.local()

    def __enter__(self) -> "Server":
        self.service.start(f"{self.url}/status?token={self.token}", timeout=600)
        return self

    def __exit__(self, *exc) -> None:
        self.service.stop()

    @property
    def pid(self) -> int:
        return self.service.process.pid

    def send(self, sender: str, text: str) -> Tuple[float, list]:
        session = getattr(self.local, "session", None) or requests.Session()
        self.local.session = session
        started = time.perf_counter()
        response = session.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000, response.json()


def messages_of(customer: int, count: int) -> List[str]:
    """A customer's messages: a conversation, continued by another if it is short."""
    messages = CONVERSATIONS[customer % len(CONVERSATIONS)] + CONVERSATIONS[(customer + 11) % len(CONVERSATIONS)]
    return messages[:count]


def load(server: Server, customers: int, per_customer: int, tag: str) -> Dict[str, float]:
    latencies: List[float] = []
    failures = 0
    lock = threading.Lock()

    def customer(number: int) -> None:
        nonlocal failures
        sender = f"{tag}-{number}-{time.time_ns()}"
        for text in messages_of(number, per_customer):
            try:
                elapsed, replies = server.send(sender, text)
            except requests.RequestException:
                replies, elapsed = None, None
            with lock:
                if elapsed is not None:
                    latencies.append(elapsed)
                failures += not replies

    cpu_before = cpu_seconds(server.pid)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(customers) as pool:
        list(pool.map(customer, range(customers)))
    wall = time.perf_counter() - started
    turns = customers * per_customer
    return {"rate": len(latencies) / wall, "latencies": latencies, "failures": failures,
            "cpu_ms": (cpu_seconds(server.pid) - cpu_before) / turns * 1000, "wall": wall}


def endpoints_stock(redis: RedisServer, action_url: str) -> str:
    store = f"  type: redis\n  url: 127.0.0.1\n  port: {redis.port}\n  db: 0\n  key_prefix: stock\n"
    return (f"action_endpoint:\n  url: {action_url}\n"
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
            f"tracker_store:\n{store}lock_store:\n{store}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help="our model (default: the newest models/isp-*.tar.gz)")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--per-customer", type=int, default=6)
    parser.add_argument("--variants", default="stock,ours-1-worker,ours")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    ours_model = Path(args.model) if args.model else max(MODELS.glob("isp-*.tar.gz"), key=lambda p: p.stat().st_mtime)

    work = Path(tempfile.mkdtemp(prefix="vs-stock-"))
    redis = RedisServer(work / "redis", appendonly=False).start()
    action_port = free_port()
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    env = project_env(
        REDIS_URL=redis.url, REDIS_KEY_PREFIX="ours", CHAT_API_KEYS=API_KEY,
        ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"), ACTION_PORT=str(action_port),
        ACTION_SERVER_URL=action_url, STEP_UP_ACTIONS="none", **fresh_credentials(),
    )
    print(f"vs_stock: ours {ours_model.name}, logs in {work}", flush=True)
    models = {"stock": stock_model(work, env), "ours": ours_model}
    credentials = {"stock": work / "stock-credentials.yml", "ours": ROOT / "credentials.yml"}
    credentials["stock"].write_text("rest:\n")
    endpoints = {"stock": work / "stock-endpoints.yml", "ours": ROOT / "endpoints.yml"}
    endpoints["stock"].write_text(endpoints_stock(redis, action_url))

    actions = Service("actions", [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                                  "--port", str(action_port), "--logging-config-file", "logging.yml"], env, work)
    actions.start(f"http://127.0.0.1:{action_port}/health")
    results: Dict[str, Dict[str, float]] = {}
    try:
        for variant in args.variants.split(","):
            kind = "stock" if variant == "stock" else "ours"
            workers = {"stock": "1", "ours-1-worker": "1", "ours": "2"}[variant]
            server_env = dict(env, SANIC_WORKERS=workers)
            with Server(f"rasa-{variant}", models[kind], endpoints[kind], credentials[kind], server_env,
                        work) as server:
                load(server, 5, 2, f"warm-{variant}")
                ten = load(server, 10, args.per_customer, f"ten-{variant}")
                full = load(server, args.customers, args.per_customer, f"load-{variant}")
                full["rss"] = rss_megabytes(server.pid)
                full["p50_10"] = percentile(ten["latencies"], 50)
                results[variant] = full
                print(f"\n== {variant} (SANIC_WORKERS={workers}): {args.customers} customers x "
                      f"{args.per_customer} messages: {full['rate']:.1f} messages/s, "
                      f"{summary(full['latencies'])}, failed/empty {full['failures']}; "
                      f"Rasa CPU {full['cpu_ms']:.1f} ms/turn, RSS {full['rss']:.0f} MB; "
                      f"10 clients: p50 {full['p50_10']:.0f} ms, {ten['rate']:.1f} messages/s", flush=True)
    finally:
        actions.stop()
        redis.stop()

    if not args.skip_accuracy:
        scores = heldout_scores(work, env)
        for name, (accuracy, f1) in scores.items():
            print(f"held-out NLU ({name}): intent accuracy {accuracy:.3f}, macro F1 {f1:.3f}", flush=True)
    if "stock" in results and "ours" in results:
        print(f"throughput: {results['ours']['rate'] / results['stock']['rate']:.2f}x stock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
