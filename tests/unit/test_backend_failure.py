"""When the ERP fails, the customer gets an apology and a way to a person."""
import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.backend
from actions.billing import ActionInvoice, ActionTrustUnlock
from actions.sales import ActionListPlans
from bot.isp.demo import DemoBackend


@pytest.fixture
def broken_backend(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(actions.backend, "_backend", DemoBackend(str(tmp_path / "file" / "db")))


def tracker(**slots) -> Tracker:
    return Tracker("test", slots, {"text": "x", "intent": {}}, [], False, None, {}, "action_listen")


@pytest.mark.parametrize("action", [ActionInvoice(), ActionTrustUnlock(), ActionListPlans()])
def test_backend_down_is_a_polite_message_with_a_person(broken_backend, action):
    """A customer who passed the step-up check (verified_document) meets a down ERP."""
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker(customer_document="52998224725", verified_document="52998224725"), {}))
    assert len(dispatcher.messages) == 1
    message = dispatcher.messages[0]
    assert "Nao consegui consultar o sistema agora" in message["text"]
    assert message["buttons"][0]["payload"] == "/request_human"
