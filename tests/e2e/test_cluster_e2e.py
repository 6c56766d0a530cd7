"""The real `rasa run` and `rasa run actions` on a 3-master Redis Cluster.

Both servers get ``REDIS_CLUSTER=true`` and one node's address, as a
deployment on ElastiCache / Memorystore cluster mode would. One REST
conversation runs to a handoff: tracker and lock store (Rasa), the desk
(action server + event broker), rate limit and outbox all on the cluster,
and no request meets ``MOVED`` or ``CROSSSLOT``; socket.io and WebSocket
clients get their replies through the cluster's pub/sub.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Dict

import pytest
import requests
from redis.cluster import key_slot

from bot.desk import Desk
from testing.processes import VENV_BIN, Service, free_port
from testing.rasa_server import RasaServer
from testing.redis_cluster import RedisTarget
from testing.widget_client import WidgetClient
from bot.stores.settings import RedisSettings
from tests.conftest import CHAT_API_KEY, METRICS_AUTH
from tests.e2e.test_websocket_channel import chat_turn, connect, frames_until, trigger

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {CHAT_API_KEY}"}


@pytest.fixture(scope="module")
def cluster_env(server_env, redis_cluster) -> Dict[str, str]:
    action_port = free_port()
    return dict(
        server_env,
        REDIS_URL=redis_cluster.url, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_cluster.ports[0]),
        REDIS_DB="0", REDIS_PASSWORD="", REDIS_CLUSTER="true",
        REDIS_KEY_PREFIX=f"cl{uuid.uuid4().hex[:8]}",
        ACTION_PORT=str(action_port), ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        SANIC_WORKERS="1",
    )


@pytest.fixture(scope="module")
def cluster_servers(model_path, cluster_env, log_dir):
    port = cluster_env["ACTION_PORT"]
    actions = Service(
        "actions-cluster",
        [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", port,
         "--debug", "--logging-config-file", "logging.yml"],
        cluster_env, log_dir,
    ).start(f"http://127.0.0.1:{port}/health")
    try:
        rasa = RasaServer(model_path, cluster_env, log_dir, name="rasa-cluster").start()
        try:
            yield rasa
        finally:
            rasa.stop()
    finally:
        actions.stop()


@pytest.fixture
def target(redis_cluster) -> RedisTarget:
    settings = RedisSettings(host="127.0.0.1", port=redis_cluster.ports[0], cluster=True)
    return RedisTarget("cluster", settings, redis_cluster.client())


def chat(server: RasaServer, session_id: str, message: str) -> requests.Response:
    return requests.post(f"{server.url}/api/v1/chat", json={"session_id": session_id, "message": message},
                         headers=AUTH, timeout=120)


def test_a_rest_conversation_to_a_handoff_on_the_cluster(cluster_servers, cluster_env, target):
    server, prefix = cluster_servers, cluster_env["REDIS_KEY_PREFIX"]
    session = f"cluster-{uuid.uuid4().hex[:10]}"
    sender = f"api:{session}"

    ready = requests.get(f"{server.url}/health/ready", headers=METRICS_AUTH, timeout=30)
    assert ready.status_code == 200 and ready.json()["redis"] == "ok", ready.text

    for message in ("/greet", "/ask_business_hours", "/request_human"):
        answer = chat(server, session, message)
        assert answer.status_code == 200 and answer.json()["messages"], (message, answer.text)
    paused = chat(server, session, "oi, alguem ai?")  # reaches the desk through the event broker
    assert paused.status_code == 200, paused.text

    tracker = server.tracker(sender)
    texts = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert texts == ["/greet", "/ask_business_hours", "/request_human", "oi, alguem ai?"]
    assert any(e["event"] == "pause" for e in tracker["events"])

    # the handoff the action server wrote is in the desk, on the cluster
    async def open_conversation():
        client = target.async_client()
        try:
            return await Desk.create(client, prefix).conversations.find_open(sender)
        finally:
            await client.close()

    conversation = asyncio.run(open_conversation())
    assert conversation is not None and conversation.status == "queue"

    keys = {key for pattern in (f"{prefix}:*", "{%s:*" % prefix) for key in target.client.scan_iter(pattern)}
    mine = [key for key in keys if key.endswith("{conv:%s}" % sender)]
    assert {key.split(":")[1] for key in mine} >= {"tracker-events", "tracker-meta"}, mine
    assert len({key_slot(key.encode()) for key in mine}) == 1
    desk_keys = [key for key in keys if key.startswith("{%s:desk}:" % prefix)]
    assert desk_keys and len({key_slot(key.encode()) for key in desk_keys}) == 1
    assert "MOVED" not in server.log_text() and "CROSSSLOT" not in server.log_text()


def test_socketio_and_websocket_reach_their_clients_through_the_cluster(cluster_servers):
    """socket.io emits (python-socketio's Redis manager on a node's plain
    connection) and WebSocket frames (outbox script + live channel, tagged per
    conversation) reach the client, in a turn and from outside one."""
    server = cluster_servers
    widget = WidgetClient(server.url).connect()
    try:
        session_id = widget.session()
        assert widget.say("oi"), "no socket.io reply"
        response = server.api("POST", f"/conversations/web:{session_id}/tracker/events",
                              params={"output_channel": "socketio", "execute_side_effects": "true"},
                              json=[{"event": "bot", "text": "Oi, aqui e a Joana, atendente."}], timeout=30)
        response.raise_for_status()
        assert widget.next("bot_uttered", timeout=20) == {"text": "Oi, aqui e a Joana, atendente."}
    finally:
        widget.close()

    ws_session = f"w-{uuid.uuid4().hex[:12]}"

    async def scenario():
        async with connect(server, ws_session) as ws:
            frames = await chat_turn(ws, "oi")
            assert [f for f in frames if f["type"] == "chat"], frames
            trigger(server, f"web:{ws_session}", "goodbye")
            delivered = await frames_until(ws, "chat")
            assert delivered[-1]["data"].get("text"), delivered

    asyncio.run(scenario())
