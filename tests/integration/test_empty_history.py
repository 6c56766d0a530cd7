"""bot/stores/empty_history.py: a conversation read through the tracker store's
window can start inside a form, at a customer's message; when every turn it
holds is a rule turn (the form asking again for the code), MemoizationPolicy's
history is empty and Rasa's featurizer raised IndexError: the turn failed.
Replayed here on the project's model with the window's shape (the state
rebuilt as slots and the active loop, then the events from the checkpoint;
taken from a conversation that failed under bench/whatsapp_ack.py): Rasa's
own method fails, the patched one predicts."""
import asyncio
import hashlib
import inspect

import pytest
from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.engine.exceptions import GraphComponentException
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import empty_history

# Rasa 3.6.21's TrackerFeaturizer._choose_last_user_input.
RASA_SOURCE_SHA256 = "0a4f5a414bf19fbbb2d8c4b0ce47e65ccdcb50bfea656b87ed4b7fa9f14a9bfa"
FORM = "customer_id_form"


def test_rasa_still_takes_the_last_state_the_way_the_patch_assumes():
    source = inspect.getsource(empty_history._ORIGINAL)
    assert hashlib.sha256(source.encode()).hexdigest() == RASA_SOURCE_SHA256, source


def asking_again(text: str):
    """A customer types something else than the code; the form asks again (rule turns)."""
    return [UserUttered(text, {"name": "greet", "confidence": 0.9}), SlotSet("verification_code", text),
            ActionExecuted(FORM, hide_rule_turn=True), BotUttered("O codigo tem 6 numeros."),
            SlotSet("verification_code", None), SlotSet("requested_slot", "verification_code"),
            BotUttered("Me manda o codigo de 6 digitos."), ActionExecuted("action_listen", hide_rule_turn=True)]


def test_a_window_of_rule_turns_inside_a_form_still_gets_a_prediction(model_path, monkeypatch):
    from rasa.core.agent import load_agent

    agent = asyncio.run(load_agent(model_path=str(model_path)))
    window = ([SlotSet("customer_document", "52998224725"), SlotSet("requested_slot", "verification_code"),
               ActiveLoop(FORM)]  # the state at the checkpoint, as bot/stores/tracker.py rebuilds it
              + asking_again("obrigado") + asking_again("oi") + asking_again("manda o boleto")
              + asking_again("oi")[:5])  # this turn: the form has asked again; what next?
    tracker = DialogueStateTracker.from_events("wa:5511900000000", window, agent.domain.slots)
    assert tracker.past_states(agent.domain, ignore_rule_only_turns=True) == []

    monkeypatch.setattr(TrackerFeaturizer, "_choose_last_user_input", empty_history._ORIGINAL)
    with pytest.raises(GraphComponentException) as failed:
        agent.processor._predict_next_with_tracker(tracker)
    assert isinstance(failed.value.__cause__, IndexError)

    empty_history.allow_empty_histories()
    prediction = agent.processor._predict_next_with_tracker(tracker)
    best = prediction.probabilities.index(max(prediction.probabilities))
    assert agent.domain.action_names_or_texts[best] == "action_listen" and "RulePolicy" in prediction.policy_name
