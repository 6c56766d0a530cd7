"""The step-up check's pure logic and its Redis code store (real Redis, db 15)."""
import asyncio
import time
import uuid

import pytest
from redis import asyncio as aioredis
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import verification
from bot.isp.base import Customer
from bot.settings import SettingsError
from bot.verification.codes import CodeStore, Outcome, document_tag
from bot.verification.delivery import CodeSender, authentication_template
from bot.verification.settings import CUSTOMER_ACTIONS, SmtpSettings, StepUpSettings, step_up_actions
from channels.whatsapp.settings import WhatsAppSettings
from testing.fakes.graph_api import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeGraphApi
from testing.fakes.smtp_server import FakeSmtpServer

MARIA = "52998224725"
JOAO = "11144477735"


_loop = asyncio.new_event_loop()


def run(coroutine):
    """One loop for the module: the Redis clients stay bound to it."""
    return _loop.run_until_complete(coroutine)


# --- settings -------------------------------------------------------------------
def test_every_customer_action_needs_the_check_by_default():
    assert step_up_actions(None) == CUSTOMER_ACTIONS
    assert step_up_actions("  ") == CUSTOMER_ACTIONS
    assert step_up_actions("none") == frozenset()
    assert step_up_actions("action_invoice, action_trust_unlock") == {"action_invoice", "action_trust_unlock"}


def test_an_unknown_action_name_is_refused_naming_the_variable():
    with pytest.raises(SettingsError, match="STEP_UP_ACTIONS.*action_invoices"):
        step_up_actions("action_invoices")


def test_identification_alone_needs_the_check_when_any_action_does():
    assert StepUpSettings(actions=frozenset({"action_invoice"})).applies_to(None)
    assert not StepUpSettings(actions=frozenset()).applies_to(None)
    assert not StepUpSettings(actions=frozenset({"action_invoice"})).applies_to("action_outage")


def test_numbers_from_the_environment(monkeypatch):
    monkeypatch.setenv("STEP_UP_MAX_ATTEMPTS", "0")
    with pytest.raises(SettingsError, match="STEP_UP_MAX_ATTEMPTS"):
        StepUpSettings.from_env()
    monkeypatch.setenv("STEP_UP_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SMTP_STARTTLS", "maybe")
    with pytest.raises(SettingsError, match="SMTP_STARTTLS"):
        StepUpSettings.from_env()
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    monkeypatch.setenv("SMTP_HOST", "smtp.provedor.example")
    monkeypatch.delenv("SMTP_FROM", raising=False)
    with pytest.raises(SettingsError, match="SMTP_FROM"):
        StepUpSettings.from_env()


# --- who is verified by WhatsApp ---------------------------------------------------
def tracker(sender: str, channel: str, **slots) -> Tracker:
    events = [{"event": "user", "text": "oi", "input_channel": channel, "parse_data": {}}]
    return Tracker(sender, slots, {}, events, False, None, {}, "action_listen")


def test_a_wa_sender_counts_only_through_the_whatsapp_connector():
    assert verification.verified_whatsapp_number(tracker("wa:5511987650001", "whatsapp")) == "5511987650001"
    assert verification.verified_whatsapp_number(tracker("wa:5511987650001", "rest")) is None
    assert verification.verified_whatsapp_number(tracker("web:abc", "whatsapp")) is None


def test_the_number_matches_with_or_without_the_ninth_digit():
    maria = Customer("1", "Maria", MARIA, phones=("5511987650001",))
    assert verification.number_matches(maria, "551187650001")
    assert verification.number_matches(maria, "5511987650001")
    assert not verification.number_matches(maria, "5511987650002")
    assert not verification.number_matches(maria, None)


def test_the_verified_document_is_tied_to_the_document(monkeypatch):
    monkeypatch.setattr(verification, "_settings", StepUpSettings(actions=CUSTOMER_ACTIONS))
    typed = tracker("web:x", "socketio", customer_document=JOAO, verified_document=MARIA)
    assert verification.step_up_required(typed, "action_invoice")
    same = tracker("web:x", "socketio", customer_document=MARIA, verified_document=MARIA)
    assert not verification.step_up_required(same, "action_invoice")
    assert not verification.step_up_required(tracker("web:x", "rest"), "action_invoice")


# --- codes in Redis ------------------------------------------------------------------
@pytest.fixture
def store(monkeypatch, redis_settings, key_prefix, redis_client):
    monkeypatch.setenv("REDIS_KEY_PREFIX", key_prefix)

    def make(**settings) -> CodeStore:
        redis = aioredis.Redis.from_url(redis_settings.url, decode_responses=True)
        return CodeStore(redis, StepUpSettings(actions=CUSTOMER_ACTIONS, **settings))
    return make


def conversation() -> str:
    return f"web:{uuid.uuid4().hex}"


def new_document() -> str:
    return uuid.uuid4().hex[:11]  # the store does not care about check digits


def test_the_right_code_verifies_once(store, redis_client, key_prefix):
    codes, chat, doc = store(), conversation(), new_document()
    code = run(codes.issue(chat, doc))
    assert len(code) == 6 and code.isdigit()
    stored = redis_client.hgetall(f"{key_prefix}:stepup:{{conv:{chat}}}:code")
    assert code not in str(stored) and doc not in str(stored), "only hashes are stored"
    assert 0 < redis_client.ttl(f"{key_prefix}:stepup:{{conv:{chat}}}:code") <= 300
    assert run(codes.check(chat, doc, code)).outcome is Outcome.VERIFIED
    assert run(codes.check(chat, doc, code)).outcome is Outcome.EXPIRED


def test_three_wrong_codes_use_the_code_up(store):
    codes, chat, doc = store(), conversation(), new_document()
    code = run(codes.issue(chat, doc))
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    assert run(codes.check(chat, doc, wrong)).tries_left == 2
    assert run(codes.check(chat, doc, wrong)).tries_left == 1
    assert run(codes.check(chat, doc, wrong)).outcome is Outcome.LOCKED
    assert run(codes.check(chat, doc, code)).outcome is Outcome.EXPIRED


def test_a_code_is_bound_to_its_conversation_and_document(store):
    codes, chat, doc = store(), conversation(), new_document()
    code = run(codes.issue(chat, doc))
    assert run(codes.check(conversation(), doc, code)).outcome is Outcome.EXPIRED
    assert run(codes.check(chat, new_document(), code)).outcome is Outcome.EXPIRED
    assert run(codes.pending(chat, doc)) and not run(codes.pending(chat, new_document()))
    assert run(codes.check(chat, doc, code)).outcome is Outcome.VERIFIED


def test_a_code_expires(store):
    codes, chat, doc = store(code_ttl_seconds=1), conversation(), new_document()
    code = run(codes.issue(chat, doc))
    time.sleep(1.3)
    assert run(codes.check(chat, doc, code)).outcome is Outcome.EXPIRED
    assert not run(codes.pending(chat, doc))


def test_codes_per_document_are_limited_across_conversations_until_one_passes(store, redis_client, key_prefix):
    codes, doc = store(codes_per_hour=2), new_document()
    first = run(codes.issue(conversation(), doc))
    assert first and run(codes.issue(chat := conversation(), doc))
    assert run(codes.issue(conversation(), doc)) is None
    assert 3500 < redis_client.ttl(f"{key_prefix}:stepup:{{doc:{document_tag(doc)}}}:sent") <= 3600
    assert run(codes.issue(conversation(), new_document())), "another document has its own count"
    # the customer who gets in is not held back by codes somebody else asked for
    code = run(store(codes_per_hour=5).issue(chat, doc))
    assert run(codes.check(chat, doc, code)).outcome is Outcome.VERIFIED
    assert run(codes.issue(conversation(), doc))


# --- delivery ---------------------------------------------------------------------------
def test_the_whatsapp_template_is_metas_authentication_format():
    body = authentication_template("codigo_verificacao", "pt_BR", "123456")
    assert body == {"type": "template", "template": {
        "name": "codigo_verificacao", "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]},
        ]}}


@pytest.fixture
def stand_ins():
    graph, smtp = FakeGraphApi(ACCESS_TOKEN).start(), FakeSmtpServer().start()
    yield graph, smtp
    graph.stop()
    smtp.stop()


def sender_for(graph, smtp) -> CodeSender:
    whatsapp = WhatsAppSettings(access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID,
                                api_url=graph.url, retries=0)
    smtp_settings = SmtpSettings(host="127.0.0.1", port=smtp.port, sender="noreply@provedor.example",
                                 starttls=False)
    return CodeSender(StepUpSettings(actions=CUSTOMER_ACTIONS, smtp=smtp_settings), whatsapp)


def test_whatsapp_first_then_email_then_nothing(stand_ins):
    graph, smtp = stand_ins
    codes = sender_for(graph, smtp)
    both = Customer("1", "Maria", MARIA, phones=("5511987650001",), email="maria@example.com")
    assert run(codes.send(both, "111111")) == "whatsapp"
    (sent,) = graph.sent(to="5511987650001", kind="template")
    assert sent.json["template"]["components"][0]["parameters"][0]["text"] == "111111"
    assert smtp.messages() == []

    graph.error_next(1, code=100)  # WhatsApp refuses: the e-mail on record gets it
    assert run(codes.send(both, "222222")) == "email"
    (mail,) = smtp.wait_for("maria@example.com", 1)
    assert "222222" in mail.get_payload() and "5 minutos" in mail.get_payload()

    assert run(codes.send(Customer("2", "Sem Contato", JOAO), "333333")) == ""


# --- the form's validation action, in process (demo ERP) ------------------------------------
@pytest.fixture
def form(monkeypatch, tmp_path):
    import yaml

    from actions import backend as backend_module
    from actions.customer import ValidateCustomerIdForm
    from testing.processes import ROOT

    monkeypatch.setenv("ISP_DEMO_DB", str(tmp_path / "demo.sqlite3"))
    monkeypatch.setattr(backend_module, "_backend", None)
    monkeypatch.setattr(verification, "_settings", StepUpSettings(actions=CUSTOMER_ACTIONS))
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())

    def run_form(sender: str, channel: str):
        slots = {name: None for name in domain["slots"]}
        slots["requested_service"] = "invoice"
        parse = {"intent": {"name": "request_invoice"}, "entities": []}
        events = [{"event": "user", "text": "/request_invoice", "input_channel": channel, "parse_data": parse},
                  {"event": "slot", "name": "requested_service", "value": "invoice"}]
        tracker = Tracker(sender, slots, parse, events, False, None, {"name": "customer_id_form"}, "")
        dispatcher = CollectingDispatcher()
        out = run(ValidateCustomerIdForm().run(dispatcher, tracker, domain))
        return {e["name"]: e["value"] for e in out if e["event"] == "slot"}, dispatcher.messages
    yield run_form
    monkeypatch.setattr(backend_module, "_backend", None)


def test_maria_on_whatsapp_is_identified_and_verified_by_her_number(form):
    slots, messages = form("wa:551187650001", "whatsapp")  # without the ninth digit
    assert slots["customer_document"] == MARIA and slots["verified_document"] == MARIA
    assert slots["requested_slot"] is None  # no code asked
    assert "Oi, Maria!" in messages[0]["text"]


def test_a_wa_sender_on_another_channel_is_asked_the_document(form):
    slots, messages = form("wa:5511987650001", "rest")
    assert slots == {"requested_slot": "customer_document"} and messages == []


def test_the_action_server_refuses_to_start_with_an_unknown_step_up_action(tmp_path):
    import subprocess

    from testing.processes import ROOT, VENV_BIN, free_port, project_env

    result = subprocess.run(
        [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", str(free_port())],
        cwd=ROOT, env=project_env(STEP_UP_ACTIONS="action_invoice,action_boleto"),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "STEP_UP_ACTIONS names unknown actions ['action_boleto']" in result.stdout + result.stderr
