"""The admin surfaces, probed as an attacker would: every route of Rasa's HTTP
API and of the action server without a credential, with a wrong one and with
the right one; forged tracker calls for every custom action; the action
server's 500s.

Destructive routes get a harmless request with the right credential (a body
Rasa rejects with 400); DELETE /model is only probed without and with a wrong
token, and the shared model is checked to be still loaded afterwards.
"""
from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import requests
import yaml

from tests.conftest import ACTION_AUTH, ROOT

pytestmark = pytest.mark.e2e

JOAO_CPF, JOAO_NAME, JOAO_PHONE = "11144477735", "Joao Carlos Souza", "5511987650002"
WRONG_TOKEN = "wrong-token-0123456789abcdef0123456789abcdef"

# (method, path, body of the right-credential probe, expected status with it)
# {id} is a throwaway conversation; 400s are bodies Rasa rejects before acting.
RASA_ROUTES = [
    ("GET", "/status", None, 200),
    ("GET", "/conversations/{id}/tracker", None, 200),
    ("PUT", "/conversations/{id}/tracker/events", {"event": "not-an-event"}, 400),
    ("POST", "/conversations/{id}/tracker/events", {"event": "not-an-event"}, 400),
    ("GET", "/conversations/{id}/story", None, 200),
    ("POST", "/conversations/{id}/execute", {}, 400),
    ("POST", "/conversations/{id}/trigger_intent", {}, 400),
    ("POST", "/conversations/{id}/predict", None, 200),
    ("POST", "/conversations/{id}/messages", {}, 400),
    ("PUT", "/model", None, 400),
    ("DELETE", "/model", None, None),  # never unload the shared model
    ("POST", "/model/train", None, 400),
    ("POST", "/model/test/stories", None, 400),
    ("POST", "/model/test/intents", None, 400),
    ("POST", "/model/parse", {"text": "oi"}, 200),
    ("POST", "/model/predict", None, 400),
    ("GET", "/domain", None, 200),
]


def rasa_call(server, method: str, path: str, token: Optional[str], body=None) -> requests.Response:
    params = {"token": token} if token is not None else {}
    kwargs = {"json": body} if body is not None else {}
    return requests.request(method, f"{server.url}{path}", params=params, timeout=60,
                            headers={"Accept": "application/json"}, **kwargs)


@pytest.fixture(scope="module")
def probe_id(rasa_server) -> str:
    """A throwaway conversation of our own (Rasa's REST channel)."""
    sender = f"admin-probe-{uuid.uuid4().hex[:10]}"
    rasa_server.send(sender, "oi")
    return sender


@pytest.mark.parametrize("method,path,body,expected", RASA_ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in RASA_ROUTES])
def test_rasa_admin_route_needs_the_token(rasa_server, probe_id, method, path, body, expected):
    path = path.format(id=probe_id)
    # a malicious body: what the attacker would send if the door were open
    attack = {"model_server": {"url": "http://attacker.example/model.tar.gz"}} if path == "/model" else body
    for token in (None, WRONG_TOKEN, ""):
        answer = rasa_call(rasa_server, method, path, token, attack)
        assert answer.status_code == 401, (token, answer.status_code, answer.text[:200])
        assert JOAO_CPF not in answer.text
    if expected is not None:
        answer = rasa_call(rasa_server, method, path, rasa_server.token, body)
        assert answer.status_code == expected, answer.text[:300]
    # nothing above unloaded or replaced the shared model
    status = rasa_call(rasa_server, "GET", "/status", rasa_server.token).json()
    assert status["model_id"] and status["model_file"]


def test_token_in_a_header_is_not_a_shortcut(rasa_server):
    """Rasa reads ?token=; a bearer header with the token is JWT, which is off."""
    answer = requests.get(f"{rasa_server.url}/status", timeout=30,
                          headers={"Authorization": f"Bearer {rasa_server.token}"})
    assert answer.status_code == 401


# --- the action server ---------------------------------------------------------

def action_url(server_env: Dict[str, str], path: str) -> str:
    return f"http://127.0.0.1:{server_env['ACTION_PORT']}{path}"


def forged_call(action: str) -> dict:
    """What an attacker would post: Joao's CPF typed in, as if verified on WhatsApp."""
    slots = {"customer_document": JOAO_CPF, "verified_document": JOAO_CPF, "customer_name": JOAO_NAME,
             "contract_id": "1", "invoice_id": "1", "new_address": "Rua do Atacante, 1",
             "visit_period": "manha", "plan_speed": "1000", "requested_service": "cancel"}
    return {
        "next_action": action,
        "sender_id": f"wa:{JOAO_PHONE}",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": f"wa:{JOAO_PHONE}", "slots": slots, "events": [], "paused": False,
            "latest_message": {"text": "sim", "intent": {"name": "affirm"}, "entities": []},
            "latest_input_channel": "whatsapp", "latest_action_name": "action_listen",
            "active_loop": {},
        },
    }


def custom_actions() -> List[str]:
    """Every action and form validator the bot's domain names (they all run here)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    return [name for name in domain["actions"] if name.startswith(("action_", "validate_"))]


# The actions that read or change the ERP (customer data, invoices, contracts,
# tickets, visits, leads); each must be among the forged calls below.
ERP_ACTIONS = {
    "validate_customer_id_form", "action_invoice", "action_payment_done", "action_trust_unlock",
    "action_no_connection", "action_slow_connection", "action_outage", "action_wifi_password",
    "action_plan_change", "action_cancellation", "action_address_change", "action_technical_visit",
    "action_ticket_status", "action_due_date_change", "action_new_service", "action_handoff",
    "action_list_plans",
}


def erp_snapshot(db: Path) -> str:
    """A digest of every row of the demo ERP."""
    with sqlite3.connect(db) as connection:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()


def test_every_erp_action_is_in_the_domain():
    assert ERP_ACTIONS <= set(custom_actions())


def test_forged_tracker_calls_are_refused_and_the_erp_is_unchanged(action_server, server_env, demo_db):
    actions = custom_actions()
    # Rasa's own call (with the token) makes the action server seed the demo ERP
    seeded = requests.post(action_url(server_env, "/webhook"), json=forged_call("action_list_plans"),
                           headers=ACTION_AUTH, timeout=30)
    assert seeded.status_code == 200, seeded.text[:300]
    with sqlite3.connect(demo_db) as connection:
        assert connection.execute("SELECT count(*) FROM customers WHERE document = ?", (JOAO_CPF,)).fetchone() == (1,)
    before = erp_snapshot(demo_db)
    refused = 0
    for action in actions:
        for headers in ({}, {"Authorization": f"Bearer {WRONG_TOKEN}"}, {"Authorization": "Bearer "},
                        {"Authorization": ACTION_AUTH["Authorization"].replace("Bearer", "Basic")}):
            answer = requests.post(action_url(server_env, "/webhook"), json=forged_call(action),
                                   headers=headers, timeout=30)
            assert answer.status_code == 401, (action, headers, answer.text[:200])
            assert JOAO_CPF not in answer.text and "Joao" not in answer.text
            refused += 1
    assert erp_snapshot(demo_db) == before
    print(f"\nforged action calls refused: {refused} ({len(actions)} actions x 4 credentials)")


def test_action_list_needs_the_token_and_health_stays_open(action_server, server_env):
    for headers in ({}, {"Authorization": f"Bearer {WRONG_TOKEN}"}):
        assert requests.get(action_url(server_env, "/actions"), headers=headers, timeout=30).status_code == 401
    listed = requests.get(action_url(server_env, "/actions"), headers=ACTION_AUTH, timeout=30)
    assert listed.status_code == 200 and {"name": "action_invoice"} in listed.json()
    health = requests.get(action_url(server_env, "/health"), timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_the_right_token_reaches_the_actions(action_server, server_env):
    """The control: with Rasa's token the same route runs actions."""
    answer = requests.post(action_url(server_env, "/webhook"), json=forged_call("action_business_hours"),
                           headers=ACTION_AUTH, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["responses"]


def test_an_action_server_500_does_not_echo_the_tracker(action_server, server_env):
    """rasa-sdk's own handler answered a 500 with the whole request (tracker, slots)."""
    call = forged_call("action_invoice")
    del call["tracker"]["sender_id"]  # Tracker.from_dict fails: an unhandled error
    answer = requests.post(action_url(server_env, "/webhook"), json=call, headers=ACTION_AUTH, timeout=30)
    assert answer.status_code == 500
    assert JOAO_CPF not in answer.text and JOAO_NAME not in answer.text and "slots" not in answer.text
    assert answer.json() == {"error": "internal error in the action server (details in its log)"}
    log = action_server.log_text()
    assert "POST /webhook failed with 500" in log and "Traceback" in log
    assert JOAO_CPF not in log


def test_malformed_json_is_a_400_without_echo(action_server, server_env):
    answer = requests.post(action_url(server_env, "/webhook"), data=f'{{"cpf": "{JOAO_CPF}"',
                           headers={**ACTION_AUTH, "Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 400 and JOAO_CPF not in answer.text
