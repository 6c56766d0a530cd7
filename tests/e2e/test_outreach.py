"""Proactive WhatsApp end to end: the desk's outbound API against the local
Graph API, the 24-hour window, opt-out, and outage notices sent by the real
job worker (``python -m bot.jobs``), including one killed mid-campaign."""
from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import time
from collections import Counter
from datetime import date, timedelta
from typing import Dict, List

import pytest
import requests

from bot.isp.demo_seed import NAMED_CUSTOMERS, generated_customers
from tests.conftest import METRICS_TOKEN
from testing.desk_client import DeskAgent, create_agent
from testing.processes import VENV_BIN, Service
from tests.e2e.test_whatsapp_channel import bodies, new_wa_id, say, shown, status, text, wait_text

pytestmark = pytest.mark.e2e

AREA = {"neighbourhood": "Bela Vista", "city": "Sao Paulo"}  # 10 customers, none of another test


@pytest.fixture(scope="module", autouse=True)
def no_jobs_left(redis_client, key_prefix):
    """arq names its keys ``arq:job:<job id>``; our job ids carry the test prefix."""
    yield
    for key in redis_client.scan_iter(f"arq:*:{key_prefix}:*"):
        redis_client.delete(key)


@pytest.fixture(scope="module")
def supervisor(rasa_server, redis_settings, key_prefix) -> DeskAgent:
    return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix, role="supervisor"))


@pytest.fixture(scope="module")
def atendente(rasa_server, redis_settings, key_prefix) -> DeskAgent:
    return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))


def worker(server_env, log_dir, name: str) -> Service:
    env = dict(server_env, JOBS_TIMEOUT_SECONDS="4", JOBS_CONCURRENCY="2", OUTREACH_CLAIM_SECONDS="2",
               OUTREACH_MESSAGES_PER_SECOND="1")
    return Service(name, [str(VENV_BIN / "python"), "-m", "bot.jobs"], env, log_dir).launch()


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def area_phones() -> List[str]:
    """Who must be told, from the demo ERP's seed: customers with a contract
    that is not cancelled in the area (every demo address is in Sao Paulo)."""
    return sorted({phone for _, _, phone, _, contracts in NAMED_CUSTOMERS + generated_customers()
                   if any(status != "cancelled" and place == AREA["neighbourhood"]
                          for _, status, place, _ in contracts)})


def templates_to(graph_api, name: str, phones: List[str]) -> Counter:
    """How many ``name`` templates each of ``phones`` got (and nobody else: other tests' sends aside,
    every other demo number must get none, which ``area_phones`` covers by listing the whole area)."""
    return Counter(r.to for r in graph_api.sent(kind="template")
                   if r.json["template"]["name"] == name and (r.to in phones or r.to.startswith("5511987")))


# -- outbound API -------------------------------------------------------------------------------

def test_free_text_only_inside_the_window(rasa_server, graph_api, supervisor):
    wa_id = new_wa_id()
    closed = supervisor.api("POST", "/whatsapp/send", json={"to": wa_id, "type": "text", "content": "Oi!"})
    assert closed.status_code == 409 and "send-template" in closed.json()["detail"]
    assert closed.json()["field"] == "to"
    assert supervisor.ok("GET", f"/whatsapp/window/{wa_id}")["open"] is False

    say(rasa_server, text(wa_id, "oi"))
    wait_text(graph_api, wa_id, "")
    window = supervisor.ok("GET", f"/whatsapp/window/{wa_id}")
    assert window["open"] and 24 * 3600 - 120 < window["seconds_left"] <= 24 * 3600

    sent = supervisor.ok("POST", "/whatsapp/send",
                         json={"to": f"+{wa_id}", "type": "text", "content": "Seu tecnico chega as 14h."})
    assert sent["message_id"].startswith("wamid.")
    body = wait_text(graph_api, wa_id, "Seu tecnico chega as 14h.")
    assert body["type"] == "text"
    image = supervisor.ok("POST", "/whatsapp/send", json={
        "to": wa_id, "type": "image", "url": "https://provedor.example/mapa.png", "caption": "Area afetada"})
    assert [r.json["image"] for r in graph_api.sent(to=wa_id, kind="image")] == [
        {"link": "https://provedor.example/mapa.png", "caption": "Area afetada"}]
    tracker = rasa_server.tracker(f"wa:{wa_id}")
    agent_texts = [e["text"] for e in tracker["events"]
                   if e["event"] == "bot" and (e.get("metadata") or {}).get("desk_agent") == supervisor.username]
    assert agent_texts == ["Seu tecnico chega as 14h.", "[image] Area afetada"]
    assert image["type"] == "image"


def test_template_components_reach_meta_byte_for_byte(graph_api, supervisor):
    wa_id = new_wa_id()
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Joana"},
                                                  {"type": "text", "text": "Centro, Sao Paulo"}]}]
    supervisor.ok("POST", "/whatsapp/send-template", json={
        "to": wa_id, "template_name": "aviso_normalizado", "language": "pt_BR", "components": components})
    [sent] = graph_api.sent(to=wa_id, kind="template")
    assert sent.json["template"] == {"name": "aviso_normalizado", "language": {"code": "pt_BR"},
                                     "components": components}


@pytest.mark.parametrize("body, field", [
    ({"to": "123", "type": "text", "content": "x"}, "to"),
    ({"to": "5511987654321", "type": "sticker"}, "type"),
    ({"to": "5511987654321", "type": "text", "content": ""}, "content"),
    ({"to": "5511987654321", "type": "image", "url": "http://inseguro.example/a.png"}, "url"),
    ({"to": "5511987654321", "type": "text", "content": "x", "priority": 1}, "priority"),
])
def test_bad_sends_are_422_naming_the_field(supervisor, body, field):
    answer = supervisor.api("POST", "/whatsapp/send", json=body)
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_bad_templates_are_refused_before_meta(graph_api, supervisor):
    wa_id = new_wa_id()
    answer = supervisor.api("POST", "/whatsapp/send-template", json={
        "to": wa_id, "template_name": "aviso_normalizado", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "so um"}]}]})
    assert answer.status_code == 422 and answer.json()["field"] == "components"
    assert graph_api.sent(to=wa_id) == []


def test_atendentes_and_strangers_cannot_send_or_register_outages(rasa_server, atendente):
    for method, path in (("POST", "/whatsapp/send"), ("POST", "/whatsapp/send-template"),
                         ("POST", "/outages"), ("GET", "/outages"), ("PATCH", "/outages/d1")):
        assert atendente.api(method, path, json={}).status_code == 403, path
        stranger = atendente.api(method, path, json={}, headers={"Authorization": "Bearer forged"})
        assert stranger.status_code == 401, path


def test_every_desk_response_carries_rate_limit_headers_and_sends_stop_at_the_limit(supervisor, redis_settings,
                                                                                    key_prefix):
    answer = supervisor.api("GET", "/me")
    assert int(answer.headers["X-RateLimit-Limit"]) >= 100
    assert 0 <= int(answer.headers["X-RateLimit-Remaining"]) < int(answer.headers["X-RateLimit-Limit"])
    assert 0 < int(answer.headers["X-RateLimit-Reset"]) <= 60
    sender = DeskAgent(supervisor.server, create_agent(redis_settings.url, key_prefix, role="supervisor"))
    statuses = []
    for _ in range(101):
        reply = sender.api("POST", "/whatsapp/send", json={"to": "1", "type": "text", "content": "x"})
        statuses.append(reply.status_code)
        if reply.status_code == 429:
            break
    if statuses[-1] == 429 and len(statuses) < 101:  # the minute turned over between calls: once more
        assert reply.headers["X-RateLimit-Remaining"] == "0"
    else:
        assert statuses.count(422) == 100 and statuses[-1] == 429, Counter(statuses)
    assert reply.headers["X-RateLimit-Limit"] == "100" and int(reply.headers["Retry-After"]) > 0


# -- opt-out and outages through the job worker ------------------------------------------------

def test_outage_notices_reach_exactly_the_area_once_even_when_the_worker_is_killed(
        rasa_server, graph_api, supervisor, server_env, log_dir):
    phones = area_phones()
    assert len(phones) >= 3, phones
    opted_out = phones[0]
    say(rasa_server, text(opted_out, "SAIR"))
    wait_text(graph_api, opted_out, "nao vai mais receber")

    first = worker(server_env, log_dir, "jobs-1")
    outage_id = None
    try:
        outage = supervisor.ok("POST", "/outages", status=201, json={
            "area": AREA, "description": "manutencao na caixa de emenda", "expected_end": "2026-12-06T18:00"})["outage"]
        outage_id = outage["id"]
        wait_for(lambda: templates_to(graph_api, "aviso_instabilidade", phones), what="a first notice")
        first.process.send_signal(signal.SIGKILL)  # mid-campaign: 1 message a second
        first.process.wait()
        started_before = sum(templates_to(graph_api, "aviso_instabilidade", phones).values())
        assert started_before < len(phones) - 1, "the campaign ended before the kill; nothing was tested"
        second, third = worker(server_env, log_dir, "jobs-2"), worker(server_env, log_dir, "jobs-3")
        try:
            expected = Counter({phone: 1 for phone in phones[1:]})
            wait_for(lambda: templates_to(graph_api, "aviso_instabilidade", phones) == expected
                     and supervisor.ok("GET", f"/outages/{outage['id']}")["outage"]["notices"]["started"].get("sent")
                     == len(phones) - 1, timeout=90, what="every notice once")
            notices = supervisor.ok("GET", f"/outages/{outage['id']}")["outage"]["notices"]["started"]
            assert notices["targeted"] == len(phones) and notices["skipped_opted_out"] == 1

            sent = next(r for r in graph_api.sent(kind="template") if r.to == phones[1])
            assert sent.json["template"]["components"][0]["parameters"][1] == {
                "type": "text", "text": "Bela Vista, Sao Paulo"}
            delivered = status(phones[1], "delivered")
            delivered["id"] = graph_api_message_id(graph_api, phones[1])
            say(rasa_server, statuses=[delivered])
            say(rasa_server, statuses=[delivered])  # Meta repeats itself: counted once
            wait_for(lambda: supervisor.ok("GET", f"/outages/{outage['id']}")["outage"]["notices"]["started"]
                     .get("status_delivered") == 1, what="the delivered status")

            exposed = requests.get(f"{rasa_server.url}/metrics", timeout=10,
                                   headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
            sent_total = re.search(r'isp_outreach_messages_total\{campaign_type="outage",outcome="sent"\} (\d+)',
                                   exposed)
            assert sent_total and int(sent_total.group(1)) >= len(phones) - 1, exposed[-2000:]
            assert re.search(r"^isp_jobs_queued \d+", exposed, re.M), exposed[-2000:]

            say(rasa_server, text(opted_out, "voltar"))
            wait_text(graph_api, opted_out, "volta a receber")
            resolved = supervisor.ok("PATCH", f"/outages/{outage['id']}", json={"status": "resolved"})["outage"]
            assert resolved["status"] == "resolved"
            wait_for(lambda: templates_to(graph_api, "aviso_normalizado", phones) == Counter({p: 1 for p in phones}),
                     timeout=60, what="every resolved notice")
            again = supervisor.api("PATCH", f"/outages/{outage['id']}", json={"status": "resolved"})
            assert again.status_code == 409
            time.sleep(2)  # nothing more trickles in
            assert templates_to(graph_api, "aviso_instabilidade", phones) == expected
        finally:
            second.stop()
            third.stop()
    finally:
        first.stop()
        if outage_id:  # a failed run must not leave other tests' customers in an outage
            supervisor.api("PATCH", f"/outages/{outage_id}", json={"status": "resolved"})


def graph_api_message_id(graph_api, phone: str) -> str:
    """The wamid the Graph stand-in answered for the outage notice to ``phone``."""
    for recorded in graph_api.requests:
        if recorded.to == phone and recorded.type == "template" and recorded.status == 200:
            return recorded.answer["messages"][0]["id"]
    raise AssertionError("the stand-in kept no response id")


@pytest.mark.parametrize("body, field", [
    ({"description": "x"}, "area"),
    ({"area": {"city": "Sao Paulo"}, "description": "x"}, "area.neighbourhood"),
    ({"area": AREA, "description": ""}, "description"),
    ({"area": AREA, "description": "x", "expected_end": "amanha"}, "expected_end"),
])
def test_bad_outages_are_422_naming_the_field(supervisor, body, field):
    answer = supervisor.api("POST", "/outages", json=body)
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_unknown_outage_is_404(supervisor):
    assert supervisor.api("PATCH", "/outages/d999999", json={"status": "resolved"}).status_code == 404


# -- billing reminders ------------------------------------------------------------------------

OFFSETS = (-3, 0, 3, 7)  # the default REMINDER_OFFSETS_DAYS


def enqueue_jobs(redis_settings, key_prefix, *jobs) -> None:
    """Queue ``(function, args, job_id)`` on the workers' queue, as the cron or the desk does."""
    from arq import create_pool
    from arq.connections import RedisSettings as ArqSettings

    from bot.jobs.queue import SERIALIZERS

    async def run():
        pool = await create_pool(ArqSettings(host=redis_settings.host, port=redis_settings.port,
                                             database=redis_settings.db, password=redis_settings.password or None),
                                 default_queue_name=f"{key_prefix}:jobs", **SERIALIZERS)
        try:
            for function, args, job_id in jobs:
                await pool.enqueue_job(function, *args, _job_id=f"{key_prefix}:{job_id}")
        finally:
            await pool.close()

    asyncio.run(run())


def open_invoices_due(demo_db, due: date) -> List[tuple]:
    """What must be reminded of, read from the demo ERP's file: (phone, due date, amount)."""
    with sqlite3.connect(demo_db) as db:
        rows = db.execute(
            "SELECT cu.phone, i.due_date, i.amount FROM invoices i JOIN contracts co ON co.id = i.contract_id "
            "JOIN customers cu ON cu.id = co.customer_id "
            "WHERE i.due_date = ? AND i.status = 'open' AND co.status != 'cancelled'", (due.isoformat(),)).fetchall()
    return [(phone, date.fromisoformat(day).strftime("%d/%m/%Y"), f"{float(amount):.2f}".replace(".", ","))
            for phone, day, amount in rows]


def reminders(graph_api, since: int) -> List[tuple]:
    out = []
    for recorded in graph_api.requests[since:]:
        if recorded.type == "template" and recorded.status == 200 \
                and recorded.json["template"]["name"] == "lembrete_fatura":
            body, button = recorded.json["template"]["components"]
            _, amount, due = (p["text"] for p in body["parameters"])
            assert button["sub_type"] == "copy_code" and button["parameters"][0]["coupon_code"].startswith("000201")
            out.append((recorded.to, due, amount))
    return out


def test_a_month_of_billing_reminders_reaches_the_right_invoices_on_the_right_days(
        graph_api, server_env, log_dir, demo_db, redis_client, redis_settings, key_prefix):
    from bot.isp.demo import DemoBackend

    DemoBackend(str(demo_db))._db()  # seeded as the action server would on its first call
    today = date.today()
    due = today.replace(day=10) if today.day <= 10 else (today.replace(day=1) + timedelta(days=32)).replace(day=10)
    days = [due - timedelta(days=14) + timedelta(days=n) for n in range(30)]
    jobs = Service("jobs-billing", [str(VENV_BIN / "python"), "-m", "bot.jobs"],
                   dict(server_env, OUTREACH_SEND_HOURS="00:00-24:00", OUTREACH_DAILY_CAP_PER_CUSTOMER="10"),
                   log_dir).launch()
    try:
        reminded_days = []
        for day in days:
            expected = sorted(item for offset in OFFSETS for item in open_invoices_due(demo_db, day - timedelta(days=offset)))
            mark = len(graph_api.requests)
            enqueue_jobs(redis_settings, key_prefix, ("billing_reminders", (day.isoformat(),), f"billing-test:{day}"))
            campaign = f"{key_prefix}:outreach:campaign:billing:{day.isoformat()}"
            wait_for(lambda: redis_client.hexists(campaign, "targeted")
                     and int(redis_client.hget(campaign, "sent") or 0) >= len(expected), timeout=60,
                     what=f"the reminders of {day}")
            time.sleep(0.3)  # nothing more for that day
            assert sorted(reminders(graph_api, mark)) == expected, day
            if expected:
                reminded_days.append(day)
        # the default rule: 3 days before the due date, on it, 3 and 7 days after
        assert reminded_days == [due - timedelta(days=3), due, due + timedelta(days=3), due + timedelta(days=7)]

        # an invoice paid after the run planned it is not reminded of (checked right before sending)
        with sqlite3.connect(demo_db) as db:
            invoice_id, contract_id, customer_id, phone = db.execute(
                "SELECT i.id, co.id, cu.id, cu.phone FROM invoices i JOIN contracts co ON co.id = i.contract_id "
                "JOIN customers cu ON cu.id = co.customer_id WHERE i.status = 'open' AND i.due_date = ? "
                "AND co.status = 'active' LIMIT 1", (due.isoformat(),)).fetchone()
            db.execute("UPDATE invoices SET status = 'paid' WHERE id = ?", (invoice_id,))
        try:
            mark = len(graph_api.requests)
            enqueue_jobs(redis_settings, key_prefix, ("send_reminder", (
                "billing:paid-check", due.isoformat(), str(customer_id), phone, "Cliente", str(invoice_id),
                str(contract_id), due.isoformat(), "99.90"), "paid-check"))
            wait_for(lambda: redis_client.hget(f"{key_prefix}:outreach:campaign:billing:paid-check", "skipped_paid"),
                     what="the paid invoice skipped")
            assert reminders(graph_api, mark) == []
        finally:
            with sqlite3.connect(demo_db) as db:
                db.execute("UPDATE invoices SET status = 'open' WHERE id = ?", (invoice_id,))
    finally:
        jobs.stop()


# -- the desk after the window closed ----------------------------------------------------------

def test_the_csat_question_goes_as_a_template_once_the_window_closed(rasa_server, graph_api, atendente,
                                                                    redis_client, key_prefix):
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"), name="Joana Prado")
    queued = atendente.find_queued(f"wa:{wa_id}")
    atendente.ok("POST", f"/conversations/{queued['id']}/claim")
    # 24 hours pass without a word from the customer
    redis_client.delete(f"{key_prefix}:wa:window:{wa_id}")
    before = len(bodies(graph_api, wa_id))
    atendente.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "resolvido"})
    sent = graph_api.wait_for(lambda: bodies(graph_api, wa_id)[before:] or None)
    time.sleep(1)  # nothing else follows: free text would be refused by Meta (131047)
    sent = bodies(graph_api, wa_id)[before:]
    assert [body["type"] for body in sent] == ["template"], sent
    assert sent[0]["template"] == {"name": "pesquisa_satisfacao", "language": {"code": "pt_BR"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Joana"}]}]}


def test_after_the_window_closed_the_atendente_writes_with_an_approved_template(
        rasa_server, graph_api, atendente, redis_client, redis_settings, key_prefix):
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quero falar com um atendente"), name="Rita Lopes")
    queued = atendente.find_queued(f"wa:{wa_id}")
    conversation = f"/conversations/{queued['id']}"
    atendente.ok("POST", f"{conversation}/claim")
    redis_client.delete(f"{key_prefix}:wa:window:{wa_id}")  # 24 hours pass without a word from her
    assert atendente.ok("GET", conversation)["conversation"]["whatsapp_window"] == {"open": False, "seconds_left": 0}
    before = len(bodies(graph_api, wa_id))

    refused = atendente.api("POST", f"{conversation}/messages", json={"text": "Oi, ainda precisa de ajuda?"})
    assert refused.status_code == 409 and refused.json()["field"] == "window", refused.text
    assert f"{conversation}/template" in refused.json()["detail"]
    templates = {t["name"]: t for t in atendente.ok("GET", "/whatsapp/templates")["templates"]}
    assert templates["retomar_atendimento"]["parameters"] == []
    assert templates["pesquisa_satisfacao"] == {
        "name": "pesquisa_satisfacao", "language": "pt_BR", "category": "utility",
        "text": "Ola {{1}}, como foi seu atendimento? Responda de 1 (ruim) a 5 (otimo).",
        "parameters": ["customer_name"], "body_parameters": ["customer_name"]}
    for body, field in (({"template_name": "codigo_verificacao", "parameters": {"code": "1"}}, "template_name"),
                        ({"template_name": "nao_existe"}, "template_name"),
                        ({"parameters": {}}, "template_name"),
                        ({"template_name": "pesquisa_satisfacao", "parameters": {}}, "parameters.customer_name"),
                        ({"template_name": "pesquisa_satisfacao", "parameters": {"customer_name": "Ri\nta"}},
                         "parameters.customer_name"),
                        ({"template_name": "pesquisa_satisfacao", "parameters": {"customer_name": "Rita", "x": "1"}},
                         "parameters.x"),
                        ({"template_name": "pesquisa_satisfacao", "parameters": ["Rita"]}, "parameters")):
        answer = atendente.api("POST", f"{conversation}/template", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == field, (body, answer.text)
    colleague = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix))
    assert colleague.api("POST", f"{conversation}/template",
                         json={"template_name": "retomar_atendimento"}).status_code == 403
    assert bodies(graph_api, wa_id)[before:] == []  # nothing refused reached Meta

    sent = atendente.ok("POST", f"{conversation}/template", status=201,
                        json={"template_name": "retomar_atendimento", "parameters": {}})
    wording = "Oi! Recebemos sua mensagem. Responda aqui para continuarmos o atendimento."
    assert sent["message"]["text"] == wording
    [body] = bodies(graph_api, wa_id)[before:]
    assert body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": wa_id,
                    "type": "template", "template": {"name": "retomar_atendimento", "language": {"code": "pt_BR"}}}
    last = atendente.ok("GET", conversation)["transcript"][-1]
    assert (last["author"], last["agent"], last["text"]) == ("agent", atendente.username, wording)

    # she answers: the window is open again and free text goes through
    say(rasa_server, text(wa_id, "oi, ainda preciso sim"))
    wait_for(lambda: atendente.ok("GET", conversation)["conversation"]["whatsapp_window"]["open"], what="the window")
    atendente.ok("POST", f"{conversation}/messages", status=201, json={"text": "Certo, Rita! Vamos la."})
    wait_text(graph_api, wa_id, "Certo, Rita! Vamos la.")


def test_a_reply_to_a_reminder_lands_in_the_conversation_with_its_invoice(
        rasa_server, graph_api, server_env, log_dir, demo_db, redis_client, redis_settings, key_prefix):
    from bot.isp.demo import DemoBackend

    DemoBackend(str(demo_db))._db()
    name, _, phone, _, _ = generated_customers()[21]  # three open invoices; no other test writes as him
    with sqlite3.connect(demo_db) as db:
        invoices = db.execute(
            "SELECT cu.id, co.id, i.id, i.due_date, i.amount FROM invoices i JOIN contracts co ON co.id = i.contract_id "
            "JOIN customers cu ON cu.id = co.customer_id WHERE cu.phone = ? AND i.status = 'open' "
            "ORDER BY i.due_date", (phone,)).fetchall()
    assert len(invoices) >= 2
    customer_id, contract_id, invoice_id, due, amount = invoices[-1]  # not the oldest: the bot would pick that one
    due_br = date.fromisoformat(due).strftime("%d/%m/%Y")
    rasa_server.api("POST", f"/conversations/wa:{phone}/tracker/events", json={"event": "restart"}).raise_for_status()
    # The month of billing reminders above may have sent him today's one reminder (it depends on the
    # date): this reminder starts his day afresh, as on another day.
    redis_client.delete(f"{key_prefix}:outreach:cap:{date.today().isoformat()}:{customer_id}")
    jobs = Service("jobs-reminder-reply", [str(VENV_BIN / "python"), "-m", "bot.jobs"],
                   dict(server_env, OUTREACH_SEND_HOURS="00:00-24:00"), log_dir).launch()
    try:
        mark = len(graph_api.requests)
        enqueue_jobs(redis_settings, key_prefix, ("send_reminder", (
            "billing:reply-test", date.today().isoformat(), str(customer_id), phone, name, str(invoice_id),
            str(contract_id), due, str(amount)), "reply-test"))
        wait_for(lambda: reminders(graph_api, mark), what="the reminder")
    finally:
        jobs.stop()
    before = len(bodies(graph_api, phone))

    # "ja paguei" means the reminded invoice (due in a month: not overdue, still open)
    say(rasa_server, text(phone, "ja paguei essa ai"), name=name)
    wait_text(graph_api, phone, f"Ainda nao consta o pagamento da fatura de ")
    paid = "\n".join(shown(b) for b in bodies(graph_api, phone)[before:])
    assert due_br in paid and "CPF" not in paid
    # and "manda o pix" sends that invoice's code, not the oldest one's
    before = len(bodies(graph_api, phone))
    say(rasa_server, text(phone, "me manda o codigo pix por favor"), name=name)
    wait_text(graph_api, phone, f"Fatura com vencimento em {due_br}")
    answer = "\n".join(shown(b) for b in bodies(graph_api, phone)[before:])
    assert f"vencimento em {date.fromisoformat(invoices[0][3]):%d/%m/%Y}" not in answer

    # the conversation shows what he answered, before his message (saved when the turn ends)
    events = wait_for(lambda: [e for e in rasa_server.tracker(f"wa:{phone}")["events"]
                               if e["event"] == "user"] and rasa_server.tracker(f"wa:{phone}")["events"],
                      what="the saved turn")
    reminder = next(i for i, e in enumerate(events) if e["event"] == "bot"
                    and (e.get("metadata") or {}).get("outreach", {}).get("invoice_id") == str(invoice_id))
    first_user = next(i for i, e in enumerate(events) if e["event"] == "user")
    assert reminder < first_user
    assert events[reminder]["text"].startswith(f"Ola {name.split()[0]}, sua fatura de R$ ")
    assert events[reminder]["metadata"]["outreach"]["campaign"] == "billing:reply-test"
    assert redis_client.exists(f"{key_prefix}:outreach:pending:{phone}") == 0  # taken once
