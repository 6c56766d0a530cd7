"""Desk open, nobody online: the customer hears that, not a reopening time.

The probe saw "Voltamos hoje as 12h14" at 12:14. A Rasa + action-server pair
with its own REDIS_KEY_PREFIX (so no agent of other tests counts as online)
and the desk always open.
"""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import CHAT_API_KEY
from testing.rasa_server import RasaServer
from testing.processes import VENV_BIN, Service, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def empty_desk(model_path, server_env, log_dir, redis_client):
    port = str(free_port())
    env = {**server_env, "DESK_HOURS": "mon-sun 00:00-24:00", "DESK_HOLIDAYS": "",
           "REDIS_KEY_PREFIX": server_env["REDIS_KEY_PREFIX"] + "nobody",
           "ACTION_PORT": port, "ACTION_SERVER_URL": f"http://127.0.0.1:{port}/webhook"}
    actions = Service("actions-nobody", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions",
                                         "--port", port, "--logging-config-file", "logging.yml"],
                      env, log_dir).start(f"http://127.0.0.1:{port}/health")
    server = RasaServer(model_path, env, log_dir, name="rasa-nobody").start()
    yield server
    server.stop()
    actions.stop()
    for key in redis_client.scan_iter(f"{env['REDIS_KEY_PREFIX']}:*"):
        redis_client.delete(key)


def test_open_desk_with_nobody_online_says_so_and_keeps_the_customer_queued(empty_desk):
    answer = requests.post(
        f"{empty_desk.url}/api/v1/chat", timeout=60, headers={"Authorization": f"Bearer {CHAT_API_KEY}"},
        json={"session_id": f"nobody-{uuid.uuid4().hex[:10]}", "message": "quero falar com um atendente"})
    assert answer.status_code == 200, answer.text
    said = "\n".join(m.get("text", "") for m in answer.json()["messages"])
    assert "atendentes estao todos offline agora" in said, said
    assert "Voltamos" not in said and "continua na fila" in said and "protocolo" in said, said
