"""Agent message -> customer delivery latency over socket.io and the plain WebSocket.

Starts an action server and one `rasa run` (without --debug; Redis db
TEST_REDIS_DB, throw-away key prefix, credentials.yml and endpoints.yml as
shipped), creates an atendente, and for each channel: a customer connects,
asks for a person, the atendente claims the conversation, then sends N
messages one after another with POST /desk/api/conversations/{id}/messages.
Delivery time = from just before the POST until the customer's client holds
the message (socket.io `bot_uttered` / WebSocket `chat` frame); the POST's
own response time (delivery + tracker write under the lock) is printed too.

    TEST_MODEL=/tmp/model.tar.gz .venv/bin/python bench/desk_delivery.py [--messages 200]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List

import redis
import websocket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings  # noqa: E402
from testing.rasa_server import RasaServer  # noqa: E402
from testing.desk_client import DeskAgent, create_agent  # noqa: E402
from testing.widget_client import WidgetClient  # noqa: E402
from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env  # noqa: E402


def percentiles(samples: List[float]) -> Dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"p50": statistics.median(ms), "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
            "max": ms[-1]}


def run(agent: DeskAgent, conversation_id: str, received: Callable[[str], None], count: int):
    """Send ``count`` messages; ``received(text)`` blocks until the customer has it."""
    deliveries, posts = [], []
    with ThreadPoolExecutor(1) as pool:
        for i in range(count):
            text = f"mensagem {i} {uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            future = pool.submit(agent.api, "POST", f"/conversations/{conversation_id}/messages",
                                 json={"text": text})
            received(text)
            deliveries.append(time.perf_counter() - started)
            answer = future.result()
            posts.append(answer.elapsed.total_seconds())
            assert answer.status_code == 201, answer.text
    return percentiles(deliveries), percentiles(posts)


def socketio_case(server: RasaServer, agent: DeskAgent, count: int):
    widget = WidgetClient(server.url).connect()
    try:
        session_id = widget.session(f"bench-{uuid.uuid4().hex[:8]}")
        widget.say("quero falar com um atendente")
        conversation = agent.find_queued(f"web:{session_id}")
        agent.ok("POST", f"/conversations/{conversation['id']}/claim")

        def received(text: str) -> None:
            while widget.next("bot_uttered", timeout=30).get("text") != text:
                pass

        return run(agent, conversation["id"], received, count)
    finally:
        widget.close()


def websocket_case(server: RasaServer, agent: DeskAgent, count: int):
    session_id = f"bench-{uuid.uuid4().hex[:8]}"
    ws = websocket.create_connection(f"{server.url.replace('http', 'ws')}/ws/chat/{session_id}", timeout=30)
    try:
        ws.recv()  # connection
        ws.send(json.dumps({"type": "chat", "data": {"message": "quero falar com um atendente"}}))
        while True:
            frame = json.loads(ws.recv())
            if frame["type"] == "typing" and not frame["data"]["active"]:
                break
        conversation = agent.find_queued(f"web:{session_id}")
        agent.ok("POST", f"/conversations/{conversation['id']}/claim")

        def received(text: str) -> None:
            while True:
                frame = json.loads(ws.recv())
                if frame["type"] == "chat" and frame["data"].get("text") == text:
                    return

        return run(agent, conversation["id"], received, count)
    finally:
        ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="agent messages per channel")
    args = parser.parse_args()
    model = os.environ.get("TEST_MODEL")
    if not model or not Path(model).is_file():
        print("set TEST_MODEL to a trained model file", file=sys.stderr)
        return 2
    base = Settings.from_env().redis
    db = int(os.environ.get("TEST_REDIS_DB", "15"))
    prefix = f"benchdesk{os.getpid()}"
    redis_url = dataclasses.replace(base, db=int(db)).url
    action_port = free_port()
    env = project_env(
        REDIS_URL=redis_url, REDIS_HOST=base.host, REDIS_PORT=str(base.port), REDIS_DB=str(db),
        REDIS_PASSWORD=base.password, REDIS_KEY_PREFIX=prefix, TRACKER_TTL_SECONDS="600",
        ISP_BACKEND="demo", ISP_DEMO_DB=str(Path(tempfile.mkdtemp()) / "demo.sqlite3"),
        ACTION_PORT=str(action_port), ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        DESK_JWT_SECRET=uuid.uuid4().hex * 2, DESK_HOURS="mon-sun 00:00-24:00",
        CHAT_RATE_LIMIT_PER_MINUTE="0", WEBSOCKET_JWT_SECRET="", SOCKETIO_JWT_SECRET="",
        **fresh_credentials(),
    )
    logs = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    actions = Service("actions", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions",
                                  "--port", str(action_port)], env, logs
                      ).start(f"http://127.0.0.1:{action_port}/health")
    server = RasaServer(Path(model), env, logs)
    server.args = [a for a in server.args if a != "--debug"]  # measure as in production
    try:
        server.start()
        print(f"server {server.url}, model {model}, logs {logs}")
        agent = DeskAgent(server, create_agent(redis_url, prefix)).online()
        socketio_case(server, agent, 10)  # warm-up
        results = {"socket.io": socketio_case(server, agent, args.messages),
                   "WebSocket": websocket_case(server, agent, args.messages)}
        print(f"\n{args.messages} agent messages per channel, sent one after another")
        print(f"{'channel':10} {'delivery p50':>13} {'p99':>9} {'max':>9}   {'POST p50':>9} {'p99':>9}")
        for channel, (delivery, post) in results.items():
            print(f"{channel:10} {delivery['p50']:10.1f} ms {delivery['p99']:6.1f} ms {delivery['max']:6.1f} ms"
                  f"   {post['p50']:6.1f} ms {post['p99']:6.1f} ms")
    finally:
        server.stop()
        actions.stop()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
