"""Outside business hours: the customer hears the hours and a protocol, and stays queued.

A second action server runs with a DESK_HOURS that is never open now (only
on a weekday that is not today, so the message names a next opening), and a
second Rasa server uses it; both share the test Redis with the main pair.
"""
from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import CHAT_API_KEY, pass_step_up
from testing.rasa_server import RasaServer
from testing.desk_client import DeskAgent, create_agent
from testing.processes import VENV_BIN, Service, free_port

pytestmark = pytest.mark.e2e

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def tomorrow() -> str:
    return DAYS[(datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=1)).weekday()]


@pytest.fixture(scope="module")
def closed_desk(model_path, server_env, log_dir, redis_client, rasa_server):
    port = str(free_port())
    env = {**server_env, "DESK_HOURS": f"{tomorrow()} 08:00-12:00", "DESK_HOLIDAYS": "",
           "ACTION_PORT": port, "ACTION_SERVER_URL": f"http://127.0.0.1:{port}/webhook"}
    actions = Service("actions-closed", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions",
                                         "--port", port, "--logging-config-file", "logging.yml"],
                      env, log_dir).start(f"http://127.0.0.1:{port}/health")
    server = RasaServer(model_path, env, log_dir, name="rasa-closed").start()
    yield server
    server.stop()
    actions.stop()


def chat(server, session_id: str, message: str) -> dict:
    answer = requests.post(f"{server.url}/api/v1/chat", json={"session_id": session_id, "message": message},
                           headers={"Authorization": f"Bearer {CHAT_API_KEY}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_outside_hours_the_customer_gets_hours_and_a_desk_protocol_and_stays_queued(
        closed_desk, redis_settings, key_prefix):
    session_id = f"closed-{uuid.uuid4().hex[:10]}"
    said = "\n".join(m.get("text", "") for m in chat(closed_desk, session_id, "quero falar com um atendente")["messages"])
    # "amanha as 8h", or "hoje as 8h" when the run crosses midnight in Sao Paulo
    assert "fechado" in said and "das 8h as 12h" in said and "Voltamos" in said and "as 8h" in said, said
    protocol = said.split("protocolo ")[1].split(" ")[0]
    assert protocol.isdigit() and len(protocol) == 14
    agent = DeskAgent(closed_desk, create_agent(redis_settings.url, key_prefix))
    queued = agent.find_queued(f"api:{session_id}")
    assert queued["protocol"] == protocol and queued["status"] == "queue"


def test_outside_hours_an_identified_customer_gets_an_erp_ticket(closed_desk, graph_api, redis_settings, key_prefix,
                                                                demo_db):
    session_id = f"closed-{uuid.uuid4().hex[:10]}"
    chat(closed_desk, session_id, "quero a segunda via do boleto")
    pass_step_up(lambda message: chat(closed_desk, session_id, message)["messages"], graph_api, "529.982.247-25")
    said = "\n".join(m.get("text", "") for m in chat(closed_desk, session_id, "quero falar com um atendente")["messages"])
    assert "protocolo" in said, said
    protocol = said.split("protocolo ")[1].split(" ")[0]
    agent = DeskAgent(closed_desk, create_agent(redis_settings.url, key_prefix))
    queued = agent.find_queued(f"api:{session_id}")
    assert queued["protocol"] == protocol
    assert queued["customer"]["name"].startswith("Maria")
    assert "***.982.247-**" in queued["summary"] and "529.982" not in queued["summary"]
    with sqlite3.connect(demo_db) as db:  # the demo ERP's ticket, not a desk number
        row = db.execute("SELECT subject, description FROM tickets WHERE protocol = ?", (protocol,)).fetchone()
    assert row[0] == "human_contact" and "529.982" not in row[1]
