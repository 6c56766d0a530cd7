"""How much a turn that calls the demo ISP backend adds over one that does not.

Starts the real action server and `rasa run` (Redis tracker and lock stores,
Redis db 14, keys deleted afterwards) on the model given, then times turns
through Rasa's REST channel, all for an identified customer:
  - utter only:      /ask_business_hours (no action server)
  - action, no ERP:  /request_human      (action_handoff)
  - action + ERP:    /ask_plans          (action_list_plans, 1 backend call)
  - action + ERP:    /ask_outage         (form + action_outage, 4 backend calls)
The /ask_outage turn also runs the identification form (one more call to the
action server), so its difference to /request_human is not all ERP time; the
last figure times its five ERP calls alone, in-process.
Usage: .venv/bin/python bench/backend_turn_latency.py MODEL.tar.gz [turns]
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from testing.processes import Service, free_port, fresh_credentials, project_env  # noqa: E402

PROBES = ["/ask_business_hours", "/request_human", "/ask_plans", "/ask_outage"]


def main() -> None:
    model, turns = Path(sys.argv[1]).resolve(), int(sys.argv[2]) if len(sys.argv) > 2 else 200
    work = Path(tempfile.mkdtemp())
    action_port, rasa_port = free_port(), free_port()
    env = project_env(
        REDIS_HOST="127.0.0.1", REDIS_PORT="6379", REDIS_DB="14", REDIS_PASSWORD="",
        REDIS_KEY_PREFIX="bench", TRACKER_TTL_SECONDS="600",
        ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ISP_BACKEND="demo", ISP_DEMO_DB=str(work / "demo.sqlite3"), **fresh_credentials(),
    )
    actions = Service("actions", [str(ROOT / ".venv/bin/rasa"), "run", "actions", "--port",
                                  str(action_port)], env, work)
    rasa = Service("rasa", [str(ROOT / ".venv/bin/rasa"), "run", "--enable-api", "--port",
                            str(rasa_port), "--model", str(model), "--endpoints", "endpoints.yml",
                            "--credentials", "credentials.yml", "--auth-token", env["RASA_API_TOKEN"]],
                   env, work)
    actions.start(f"http://127.0.0.1:{action_port}/health")
    rasa.start(f"http://127.0.0.1:{rasa_port}/status?token={env['RASA_API_TOKEN']}")
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    session = requests.Session()
    try:
        timings = {probe: [] for probe in PROBES}
        for n in range(turns):
            sender = f"bench-{n % 20}"
            if n < 20:  # identify the 20 customers once (Maria's CPF)
                session.post(url, json={"sender": sender, "message": "/request_invoice"})
                session.post(url, json={"sender": sender, "message": "52998224725"})
            for probe in PROBES:
                start = time.perf_counter()
                reply = session.post(url, json={"sender": sender, "message": probe}, timeout=30)
                timings[probe].append((time.perf_counter() - start) * 1000)
                assert reply.status_code == 200 and reply.json(), (probe, reply.text)
        print(f"turns per probe: {turns}, model {model.name}, machine: {os.cpu_count()} cores")
        for probe, values in timings.items():
            values.sort()
            p95 = values[int(len(values) * 0.95) - 1]
            print(f"{probe:22} p50 {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms")
        base = statistics.median(timings["/request_human"])
        for probe in ("/ask_plans", "/ask_outage"):
            print(f"backend cost {probe}: {statistics.median(timings[probe]) - base:+.1f} ms (p50 vs /request_human)")
    finally:
        rasa.stop()
        actions.stop()
        client = redis.Redis(db=14)
        for key in client.scan_iter("bench:*"):
            client.delete(key)


def backend_calls_of_one_outage_turn(repeat: int = 500) -> None:
    """In-process: the ERP calls /ask_outage makes (form validation + action)."""
    import asyncio

    from bot.isp.demo import DemoBackend

    async def turn(backend):
        for _ in range(2):  # validate_customer_id_form, then action_outage
            customer = await backend.find_customer_by_document("52998224725")
            contracts = await backend.list_contracts(customer.id)
        await backend.outages_for(contracts[0])

    async def measure():
        backend = DemoBackend(tempfile.mktemp(suffix=".sqlite3"))
        await turn(backend)  # create and seed
        values = []
        for _ in range(repeat):
            start = time.perf_counter()
            await turn(backend)
            values.append((time.perf_counter() - start) * 1000)
        await backend.close()
        return sorted(values)

    values = asyncio.run(measure())
    print(f"ERP calls of one /ask_outage turn (5 calls, in-process): p50 {statistics.median(values):.2f} ms, "
          f"p95 {values[int(len(values) * 0.95) - 1]:.2f} ms")


if __name__ == "__main__":
    main()
    backend_calls_of_one_outage_turn()
