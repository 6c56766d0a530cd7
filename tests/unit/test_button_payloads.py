"""Buttons built from ERP values still work when the values hold quotes or braces.

The payload of a button is what Rasa receives when the customer taps it
(``/intent{"entity": "value"}``); Rasa decodes the entities as JSON
(``YAMLStoryReader.unpack_regex_message``, the regex message handler).
"""
import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.backend
from actions.customer import ActionAskContractId, pick_contract
from actions.sales import ActionAskPlanSpeed, ValidatePlanForm
from actions.tickets import ActionPlanChange
from bot.formatting import intent_payload
from bot.isp.demo import DemoBackend

ROOT = Path(__file__).resolve().parents[2]
ODD_PLAN = 'Fibra "Turbo" {2 Giga} \\ ç'
PADARIA = "11222333000181"  # two contracts in the demo ERP


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def erp(tmp_path, monkeypatch) -> DemoBackend:
    """The demo ERP with a plan (and a contract on it) whose name is hostile to f-strings."""
    backend = DemoBackend(str(tmp_path / "demo.sqlite3"))
    asyncio.run(backend.list_plans())  # creates and seeds the file
    with sqlite3.connect(backend.path) as db:
        db.execute("INSERT INTO plans (name, download_mbps, upload_mbps, price, description) "
                   "VALUES (?, 2000, 1000, '249.90', '')", (ODD_PLAN,))
        db.execute("UPDATE contracts SET plan_name = ? WHERE customer_id = "
                   "(SELECT id FROM customers WHERE document = ?)", (ODD_PLAN, PADARIA))
    monkeypatch.setattr(actions.backend, "_backend", backend)
    return backend


def tracker(**slots) -> Tracker:
    return Tracker("test", slots, {"text": "x", "intent": {}}, [], False, None, {}, "action_listen")


def tapped(payload: str, domain: Domain) -> Message:
    """What Rasa makes of a tapped button."""
    return YAMLStoryReader.unpack_regex_message(Message({"text": payload}), domain)


def entity(message: Message, name: str):
    return next(e["value"] for e in message.get("entities") if e["entity"] == name)


@pytest.mark.parametrize("value", ["7", ODD_PLAN, '"}{"x": 1}', "a@0.5{b}"])
def test_intent_payload_round_trips_any_value(value, domain):
    message = tapped(intent_payload("request_plan_change", plan_speed=value), domain)
    assert message.get("intent")["name"] == "request_plan_change"
    assert entity(message, "plan_speed") == value


def test_payload_format_is_unchanged_for_plain_values():
    assert intent_payload("request_invoice", invoice_id="7") == '/request_invoice{"invoice_id": "7"}'
    assert intent_payload("request_human") == "/request_human"


def test_plan_button_with_quotes_and_braces_changes_to_that_plan(erp, domain):
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskPlanSpeed().run(dispatcher, tracker(), {}))
    button = next(b for b in dispatcher.messages[0]["buttons"] if ODD_PLAN in b["title"])
    chosen = entity(tapped(button["payload"], domain), "plan_speed")
    assert chosen == ODD_PLAN

    slots = asyncio.run(ValidatePlanForm().validate_plan_speed(chosen, dispatcher, tracker(), {}))
    assert slots == {"plan_speed": ODD_PLAN}
    assert ActionPlanChange().details(tracker(**slots)) == f"Plano desejado: {ODD_PLAN}."


def test_contract_button_of_a_contract_on_that_plan_picks_it(erp, domain):
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskContractId().run(dispatcher, tracker(customer_document=PADARIA), {}))
    buttons = dispatcher.messages[0]["buttons"]
    assert len(buttons) == 2 and all(ODD_PLAN in b["title"] for b in buttons)
    contracts = asyncio.run(erp.list_contracts(asyncio.run(erp.find_customer_by_document(PADARIA)).id))
    for button, contract in zip(buttons, contracts):
        message = tapped(button["payload"], domain)
        assert message.get("intent")["name"] == "inform_cpf"
        assert pick_contract(entity(message, "contract_id"), contracts) == contract
