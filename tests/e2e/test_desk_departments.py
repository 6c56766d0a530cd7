"""Departments end to end: a handoff lands in the queue of the department its
topic maps to (desk_departments.yml) and the customer hears which one and
their position there; an atendente of one department neither sees nor claims
another's; a transfer to another department keeps the conversation's age and
tells the customer; admins manage departments and who serves them; the
supervisors' metrics are split by department."""
from __future__ import annotations

import time

import pytest

from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_whatsapp_channel import button_reply, new_wa_id, say, wait_text

pytestmark = pytest.mark.e2e


def hand_off(rasa_server, graph_api, topic_payload: str, name: str) -> str:
    wa_id = new_wa_id()
    say(rasa_server, button_reply(wa_id, topic_payload, "Opcao"), name=name)
    wait_text(graph_api, wa_id, "CPF")
    say(rasa_server, button_reply(wa_id, "/request_human", "Atendente"), name=name)
    return wa_id


def test_handoffs_are_routed_by_topic_and_each_department_keeps_its_queue(
        rasa_server, graph_api, redis_settings, key_prefix):
    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    fin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    assert admin.ok("PATCH", f"/users/{fin.username}", json={"departments": ["financeiro"]})["user"][
        "departments"] == ["financeiro"]
    fin.online()
    departments = {d["slug"]: d for d in fin.ok("GET", "/departments")["departments"]}
    assert departments["financeiro"]["name"] == "Financeiro" and "suporte" in departments

    invoice = hand_off(rasa_server, graph_api, "/request_invoice", "Lia Campos")
    told = wait_text(graph_api, invoice, "setor Financeiro")
    assert "posicao" in told["interactive"]["body"]["text"] or "proximo da fila" in told["interactive"]["body"]["text"]
    internet = hand_off(rasa_server, graph_api, "/report_no_connection", "Rui Prado")

    supervisor = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="supervisor"))
    queued = {item["sender_id"]: item for item in supervisor.ok("GET", "/queue")["queue"]}
    wait_for_both = [queued.get(f"wa:{invoice}"), queued.get(f"wa:{internet}")]
    if not all(wait_for_both):  # the second handoff's turn may still be running
        supervisor.find_queued(f"wa:{internet}")
        queued = {item["sender_id"]: item for item in supervisor.ok("GET", "/queue")["queue"]}
    mine, theirs = queued[f"wa:{invoice}"], queued[f"wa:{internet}"]
    assert (mine["department"], theirs["department"]) == ("financeiro", "suporte")
    assert [c["department"] for c in supervisor.ok("GET", "/queue?department=suporte")["queue"]] == \
        ["suporte"] * len(supervisor.ok("GET", "/queue?department=suporte")["queue"])

    # the financeiro atendente sees and takes only financeiro's queue
    seen = {item["sender_id"] for item in fin.ok("GET", "/queue")["queue"]}
    assert f"wa:{invoice}" in seen and f"wa:{internet}" not in seen
    assert fin.api("POST", f"/conversations/{theirs['id']}/claim").status_code == 403
    assert fin.api("GET", f"/conversations/{theirs['id']}").status_code == 403
    fin.ok("POST", f"/conversations/{mine['id']}/claim")

    # to another department: back in a queue, with a note the next agent reads; the customer is told
    for body, field in (({"department": "nao-existe", "reason": "x"}, "department"),
                        ({"department": "suporte", "to": "ana", "reason": "x"}, "to"),
                        ({"department": "suporte"}, "reason")):
        answer = fin.api("POST", f"/conversations/{mine['id']}/transfer", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    moved = fin.ok("POST", f"/conversations/{mine['id']}/transfer", json={
        "department": "suporte", "reason": "problema tecnico", "note": "ja reiniciou a ONU"})["conversation"]
    assert (moved["status"], moved["department"], moved.get("agent")) == ("queue", "suporte", None)
    assert moved["transfers"][-1]["note"] == "ja reiniciou a ONU"
    wait_text(graph_api, invoice, "Transferi seu atendimento para o setor Suporte tecnico")
    # its place by age (priority first: "sem conexao" outranks an invoice question)
    assert moved["created_at"] == mine["created_at"]
    suporte_queue = supervisor.ok("GET", "/queue?department=suporte")["queue"]
    assert mine["id"] in [c["id"] for c in suporte_queue]
    assert suporte_queue == sorted(suporte_queue, key=lambda c: (-c["priority"], c["created_at"]))
    assert [c["position"] for c in suporte_queue] == list(range(1, len(suporte_queue) + 1))
    assert fin.api("GET", f"/conversations/{mine['id']}").status_code == 403

    # the supervisors' dashboard, per department
    rows = {row["slug"]: row for row in supervisor.ok("GET", "/metrics")["departments"]}
    assert rows["suporte"]["in_queue"] >= 2 and rows["financeiro"]["agents_online"] >= 1
    for conversation in (mine, theirs):
        supervisor.ok("POST", f"/conversations/{conversation['id']}/close", json={"resolution": "teste"})


def test_admins_manage_departments_and_who_serves_them(rasa_server, redis_settings, key_prefix):
    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    atendente = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    slug = f"ouvidoria{key_prefix[-4:].lower()}".replace(":", "")
    created = admin.ok("POST", "/departments", status=201, json={"slug": slug, "name": "Ouvidoria"})
    assert created["department"] == {"slug": slug, "name": "Ouvidoria", "assignment": "manual",
                                     "first_response_seconds": None, "resolution_seconds": None, "hours": None}
    assert admin.api("POST", "/departments", json={"slug": slug, "name": "Outra"}).status_code == 409
    assert admin.ok("PATCH", f"/departments/{slug}", json={"name": "Ouvidoria e SAC"})["department"]["name"] \
        == "Ouvidoria e SAC"
    for body, field in (({"slug": "X Y", "name": "N"}, "slug"), ({"slug": "okay", "name": ""}, "name")):
        answer = admin.api("POST", "/departments", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field
    assert admin.api("PATCH", "/departments/nao-existe", json={"name": "N"}).status_code == 404
    assert atendente.api("POST", "/departments", json={"slug": "x1", "name": "X"}).status_code == 403
    assert atendente.api("PATCH", f"/departments/{slug}", json={"name": "X"}).status_code == 403
    bad = admin.api("PATCH", f"/users/{atendente.username}", json={"departments": ["nao-existe"]})
    assert bad.status_code == 422 and bad.json()["field"] == "departments"
    assert admin.ok("PATCH", f"/users/{atendente.username}", json={"departments": [slug, "financeiro"]})[
        "user"]["departments"] == sorted([slug, "financeiro"])


def open_in(redis_settings, key_prefix, department: str, count: int) -> list:
    """Queue ``count`` conversations in ``department`` as action_handoff would (the desk library)."""
    import asyncio
    import uuid

    from redis import asyncio as aioredis

    from bot.desk import Desk

    async def run():
        client = aioredis.Redis.from_url(redis_settings.url, decode_responses=True)
        try:
            desk = Desk.create(client, key_prefix)
            ids = []
            for _ in range(count):
                ids.append((await desk.conversations.open("rest", f"rest:auto-{uuid.uuid4().hex[:8]}", "teste",
                                                          department=department))[0].id)
                await asyncio.sleep(0.002)  # the queue orders by the millisecond of arrival: one each
            return ids
        finally:
            await client.close()

    return asyncio.run(run())


def test_an_auto_department_hands_conversations_out_within_capacity(rasa_server, redis_settings, key_prefix):
    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    slug = "automatico"
    if admin.api("POST", "/departments", json={"slug": slug, "name": "Automatico"}).status_code not in (201, 409):
        raise AssertionError("department not created")
    team = [DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)) for _ in range(2)]
    for member in team:
        admin.ok("PATCH", f"/users/{member.username}", json={"departments": [slug], "capacity": 2})
        member.online().connect()
    bad = admin.api("PATCH", f"/departments/{slug}", json={"assignment": "sometimes"})
    assert bad.status_code == 422 and bad.json()["field"] == "assignment"
    assert admin.ok("PATCH", f"/departments/{slug}", json={"assignment": "auto"})["department"]["assignment"] == "auto"
    try:
        ids = open_in(redis_settings, key_prefix, slug, 5)
        # every member hears of their own assignments live; nobody is given more than 2
        for member in team:
            member.event("conversation_assigned", lambda data: data["conversation"]["agent"] == member.username)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [admin.ok("GET", f"/conversations/{cid}")["conversation"] for cid in ids]
            if sum(c["status"] == "in_progress" for c in states) == 4:
                break
            time.sleep(0.2)
        assert [c["status"] for c in states] == ["in_progress"] * 4 + ["queue"]  # oldest first
        held = {m.username: [c["id"] for c in states if c.get("agent") == m.username] for m in team}
        assert sorted(len(v) for v in held.values()) == [2, 2]

        # a place frees up: the waiting one goes to that agent
        first = team[0]
        first.ok("POST", f"/conversations/{held[first.username][0]}/close", json={"resolution": "ok"})
        assigned = first.event("conversation_assigned", lambda data: data["conversation"]["id"] == ids[4])
        assert assigned["conversation"]["agent"] == first.username
    finally:
        admin.ok("PATCH", f"/departments/{slug}", json={"assignment": "manual"})
        for member in team:
            member.close()
            member.ok("POST", "/me/status", json={"status": "offline"})
        for cid in ids:
            admin.api("POST", f"/conversations/{cid}/close", json={"resolution": "fim do teste"})


def test_sla_targets_breaches_in_the_queue_and_metrics_and_the_report_as_csv(rasa_server, redis_settings, key_prefix):
    import asyncio
    import csv
    import io
    import uuid as uuid_

    from redis import asyncio as aioredis

    from bot.desk import Desk

    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    slug = "sla"
    if admin.api("POST", "/departments", json={"slug": slug, "name": "SLA"}).status_code not in (201, 409):
        raise AssertionError("department not created")
    for body, field in (({"first_response_seconds": 5}, "first_response_seconds"),
                        ({"resolution_seconds": "1h"}, "resolution_seconds")):
        answer = admin.api("PATCH", f"/departments/{slug}", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field
    admin.ok("PATCH", f"/departments/{slug}", json={"first_response_seconds": 60, "resolution_seconds": 600})

    async def open_two():
        client = aioredis.Redis.from_url(redis_settings.url, decode_responses=True)
        try:
            desk = Desk.create(client, key_prefix)
            late, _ = await desk.conversations.open("rest", f"rest:sla-{uuid_.uuid4().hex[:6]}", "teste",
                                                    department=slug, now=time.time() - 120)
            fresh, _ = await desk.conversations.open("rest", f"rest:sla-{uuid_.uuid4().hex[:6]}", "teste",
                                                     department=slug)
            return late.id, fresh.id
        finally:
            await client.close()

    late, fresh = asyncio.run(open_two())
    queued = {c["id"]: c for c in admin.ok("GET", f"/queue?department={slug}")["queue"]}
    assert queued[late]["sla"]["first_response_breached"] is True and queued[late]["sla"]["first_response_target"] == 60
    assert queued[fresh]["sla"]["first_response_breached"] is False
    rows = {row["slug"]: row for row in admin.ok("GET", "/metrics")["departments"]}
    assert rows[slug]["first_response_breaches"] == 1

    report = admin.ok("GET", "/reports")
    mine = [row for row in report["rows"] if row["department"] == slug]
    assert sum(row["conversations"] for row in mine) >= 2 and sum(row["first_response_breaches"] for row in mine) >= 1
    download = admin.api("GET", "/reports?format=csv")
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert any(row["department"] == slug and int(row["first_response_breaches"]) >= 1 for row in table)
    for query, field in (("format=pdf", "format"), ("since=2020-01-01&until=2026-01-01", "since"),
                         ("since=2026-12-02&until=2026-12-01", "since")):
        answer = admin.api("GET", f"/reports?{query}")
        assert answer.status_code == 422 and answer.json()["field"] == field, query
    atendente = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    assert atendente.api("GET", "/reports").status_code == 403
    for cid in (late, fresh):
        admin.ok("POST", f"/conversations/{cid}/close", json={"resolution": "fim do teste"})


def test_a_department_with_its_own_hours_says_so_while_the_desk_is_open(
        rasa_server, graph_api, redis_settings, key_prefix):
    """Comercial answers only tomorrow morning: a plan change handed off now gets
    its hours, the next opening and a protocol, and waits in its queue."""
    from tests.e2e.test_desk_hours import tomorrow

    admin = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="admin"))
    seller = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    admin.ok("PATCH", f"/users/{seller.username}", json={"departments": ["comercial"]})
    seller.online()  # someone is online: only the department's hours close it
    for hours in ("seg-sex 25:00-26:00", "ontem 08:00-12:00", 8, "x" * 201, "mon 12:00-08:00"):
        answer = admin.api("PATCH", "/departments/comercial", json={"hours": hours})
        assert answer.status_code == 422 and answer.json()["field"] == "hours", answer.text
    assert seller.api("PATCH", "/departments/comercial", json={"hours": ""}).status_code == 403
    try:
        changed = admin.ok("PATCH", "/departments/comercial", json={"hours": f"{tomorrow()}   08:00-12:00"})
        assert changed["department"]["hours"] == f"{tomorrow()} 08:00-12:00"
        wa_id = hand_off(rasa_server, graph_api, "/request_plan_change", "Noa Lima")
        told = wait_text(graph_api, wa_id, "fechado")
        said = told["interactive"]["body"]["text"] if told["type"] == "interactive" else told["text"]["body"]
        assert "das 8h as 12h" in said and "protocolo" in said, said
        queued = seller.find_queued(f"wa:{wa_id}")
        assert queued["department"] == "comercial" and queued["protocol"]
        seller.ok("POST", f"/conversations/{queued['id']}/claim")
        seller.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "teste"})
    finally:
        cleared = admin.ok("PATCH", "/departments/comercial", json={"hours": ""})
        assert cleared["department"]["hours"] is None
        seller.api("POST", "/me/status", json={"status": "offline"})
