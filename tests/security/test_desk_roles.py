"""Desk roles (docs/desk-api.md): the desk metrics are for supervisors and
admins (403 for an atendente); an atendente's /agents is only whom to
transfer to (no roles, no load), the dashboard view is for supervisors/admins."""
from __future__ import annotations

import pytest

from testing.desk_client import DeskAgent, create_agent

pytestmark = pytest.mark.e2e

DASHBOARD = {"username", "name", "role", "status", "active_conversations"}
TRANSFER_PICKER = {"username", "name", "status"}


@pytest.fixture(scope="module")
def desk(rasa_server, redis_settings, key_prefix):
    def login(role: str) -> DeskAgent:
        return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role=role))
    return login


def test_atendente_gets_403_on_the_desk_metrics(desk):
    answer = desk("atendente").api("GET", "/metrics")
    assert answer.status_code == 403
    assert "supervisors" in answer.json()["detail"]
    for role in ("supervisor", "admin"):
        assert "active" in desk(role).ok("GET", "/metrics")


def test_atendente_sees_only_whom_to_transfer_to(desk):
    atendente, supervisor = desk("atendente"), desk("supervisor")
    picker = atendente.ok("GET", "/agents")["agents"]
    assert supervisor.username in {a["username"] for a in picker}
    assert all(set(a) == TRANSFER_PICKER for a in picker)
    for role in ("supervisor", "admin"):
        listed = desk(role).ok("GET", "/agents")["agents"]
        assert listed and all(set(a) == DASHBOARD for a in listed)
