"""Latency of the LLM fallback (issue 6). Prints:

  - retrieval:        KnowledgeBase.search over data/knowledge/ (every test question, many rounds)
  - responder (kb):   a fallback answered from the knowledge base (no key), real Redis
  - responder (llm):  the same through the model, a local OpenAI-compatible server answering
                      at once (testing/fakes/openai_server.py): retrieval, masking, HTTP, checks,
                      breaker and metrics in Redis; streamed and not
  - turn (with --model FILE): whole customer turns over Rasa's REST channel on a real
                      `rasa run` + `rasa run actions` pair pointed at the stand-in: a
                      fallback question vs a greeting (no action server call)

Redis db 14, prefix ``benchllm``, keys deleted afterwards.
Usage: .venv/bin/python bench/llm_fallback.py [--model models/x.tar.gz] [--turns 100]
"""
import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("REDIS_KEY_PREFIX", "benchllm")
URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

import redis as sync_redis  # noqa: E402
from redis import asyncio as aioredis  # noqa: E402

from bot.llm.knowledge import KnowledgeBase  # noqa: E402
from bot.llm.responder import Responder  # noqa: E402
from bot.llm.settings import LlmSettings  # noqa: E402
from testing.fakes.openai_server import API_KEY, FakeOpenAI  # noqa: E402
from testing.llm_questions import QUESTIONS  # noqa: E402


def report(name, samples):
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{name:<26} n={len(ms):<5} p50 {statistics.median(ms):8.2f} ms   p99 {p99:8.2f} ms")


def bench_retrieval(kb, rounds=50):
    kb.search("aquecimento")  # build the index first
    samples = []
    for _ in range(rounds):
        for question, _ in QUESTIONS:
            start = time.perf_counter()
            kb.search(question, 3)
            samples.append(time.perf_counter() - start)
    print(f"knowledge base: {len(kb.passages)} passages")
    report("retrieval", samples)


async def bench_responder(kb, fake, n=200):
    redis = aioredis.Redis.from_url(URL, decode_responses=True)
    base = LlmSettings.from_env()
    cases = {
        "responder (kb, no key)": (base.__class__(**{**base.__dict__, "api_key": ""}), False),
        "responder (llm)": (base.__class__(**{**base.__dict__, "api_key": API_KEY,
                                               "base_url": fake.url, "timeout_seconds": 8.0}), False),
        "responder (llm, stream)": (base.__class__(**{**base.__dict__, "api_key": API_KEY,
                                                       "base_url": fake.url, "timeout_seconds": 8.0}), True),
    }

    async def drop(_piece):
        pass

    for name, (settings, stream) in cases.items():
        responder = Responder(settings, kb, redis)
        samples = []
        for i in range(n):
            question = QUESTIONS[i % len(QUESTIONS)][0]
            start = time.perf_counter()
            await responder.answer(question, drop if stream else None)
            samples.append(time.perf_counter() - start)
        report(name, samples[5:])  # the first calls open connections
    await redis.close()


def bench_turns(model, fake, turns):
    import requests
    from testing.rasa_server import RasaServer
    from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env

    port = str(free_port())
    env = project_env(REDIS_URL=URL, REDIS_HOST="127.0.0.1", REDIS_PORT="6379", REDIS_DB="14",
                      REDIS_PASSWORD="", REDIS_KEY_PREFIX="benchllm", TRACKER_TTL_SECONDS="3600",
                      OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=fake.url, ACTION_PORT=port,
                      ACTION_SERVER_URL=f"http://127.0.0.1:{port}/webhook",
                      ISP_DEMO_DB=str(Path(tempfile.mkdtemp()) / "demo.sqlite3"), **fresh_credentials())
    logs = Path(tempfile.mkdtemp())
    actions = Service("actions", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions",
                                  "--port", port, "--logging-config-file", "logging.yml"],
                      env, logs).start(f"http://127.0.0.1:{port}/health")
    rasa = RasaServer(Path(model).resolve(), env, logs).start()
    try:
        for name, text in (("turn: greeting", "oi"), ("turn: fallback via llm", "meu roteador e dual band?")):
            samples = []
            for i in range(turns + 5):
                sender = f"bench-{uuid.uuid4().hex[:10]}"
                start = time.perf_counter()
                replies = requests.post(f"{rasa.url}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}, timeout=60).json()
                samples.append(time.perf_counter() - start)
                assert replies, f"no reply to {text!r}"
            report(name, samples[5:])
        print(f"model requests seen by the stand-in: {len(fake.requests)}")
    finally:
        rasa.stop()
        actions.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="a trained model: also measure whole REST turns")
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    kb = KnowledgeBase()
    bench_retrieval(kb)
    fake = FakeOpenAI().start()
    fake.set("answer", reply="Sim! Nosso roteador e dual band. A rede 5G e a mais rapida.")
    try:
        asyncio.run(bench_responder(kb, fake))
        if args.model:
            bench_turns(args.model, fake, args.turns)
    finally:
        fake.stop()
        client = sync_redis.Redis.from_url(URL)
        for key in client.scan_iter("benchllm*"):
            client.delete(key)


if __name__ == "__main__":
    main()
