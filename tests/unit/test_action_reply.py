"""bot/stores/action_reply.py: Rasa's check of action replies, with the validator built once.

The override must keep Rasa's behaviour (same schema, same error, same
message) and must still be called where Rasa calls its own: if Rasa changes
either, these tests fail and the override is to be looked at again.
"""
import hashlib
import inspect

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.stores import action_reply

# Rasa 3.6.21's own _validate_action_result, whose behaviour the override copies.
RASA_VALIDATE_SOURCE_SHA256 = "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42"


def original_source() -> str:
    return inspect.getsource(ORIGINAL)


ORIGINAL = RemoteAction.__dict__["_validate_action_result"]
if getattr(ORIGINAL, "prebuilt", False):  # another test module built a store first
    pytest.fail("the override was applied before this module could read Rasa's own method")


def test_rasa_still_validates_replies_the_way_the_override_copies():
    """If this fails Rasa changed _validate_action_result: compare the new source with
    bot/stores/action_reply.py (perhaps Rasa caches its validator now, then drop the override)."""
    digest = hashlib.sha256(original_source().encode()).hexdigest()
    assert digest == RASA_VALIDATE_SOURCE_SHA256, original_source()


def test_rasa_still_calls_it_on_every_reply():
    assert "self._validate_action_result(response)" in inspect.getsource(RemoteAction.run)


@pytest.fixture()
def patched():
    action_reply.validate_replies_with_a_prebuilt_validator()
    yield RemoteAction("action_x", None)
    RemoteAction._validate_action_result = ORIGINAL


REPLIES = [
    {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "oi"}]},
    {"events": [], "responses": []},
    {},
    {"events": [{"event": "followup", "name": "action_listen"}]},
]
BAD_REPLIES = [
    {"events": "not a list"},
    {"events": [{"event": "slot"}]},
    {"responses": [1]},
    {"events": [{"event": "no_such_event"}]},
    [],
]


@pytest.mark.parametrize("reply", REPLIES)
def test_valid_replies_pass_both(patched, reply):
    assert ORIGINAL(patched, reply) is True
    assert patched._validate_action_result(reply) is True


@pytest.mark.parametrize("reply", BAD_REPLIES)
def test_invalid_replies_raise_the_same_error(patched, reply):
    with pytest.raises(jsonschema.ValidationError) as rasa_error:
        ORIGINAL(patched, reply)
    with pytest.raises(jsonschema.ValidationError) as our_error:
        patched._validate_action_result(reply)
    assert our_error.value.message == rasa_error.value.message
    assert "Failed to validate Action server response" in our_error.value.message
    assert list(our_error.value.path) == list(rasa_error.value.path)


def test_installing_twice_keeps_one_override(patched):
    action_reply.validate_replies_with_a_prebuilt_validator()
    assert RemoteAction._validate_action_result is action_reply.validate_action_result


# -- each event checked against its own type's part of the schema ----------------------------

EVENTS = [  # one of each shape the project's actions send, and some that must be refused
    {"event": "slot", "name": "cpf", "value": "52998224725", "timestamp": None},
    {"event": "slot", "name": "cpf", "value": None, "metadata": {"a": 1}},
    {"event": "bot", "text": "oi", "data": {"buttons": []}, "metadata": {}},
    {"event": "followup", "name": "action_listen"},
    {"event": "active_loop", "name": "invoice_form"},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
    {"event": "user", "text": "oi", "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}},
    {"event": "reset_slots"}, {"event": "restart"}, {"event": "pause"}, {"event": "resume"},
    {"event": "session_started"},
    {"event": "slot", "name": 3, "value": 1},  # name must be a string
    {"event": "slot", "name": "x"},  # value required
    {"event": "action", "name": "x", "confidence": "high"},
    {"event": "user", "text": 5},
    {"event": "user", "parse_data": {"intent_ranking": "x"}},
    {"event": "entities", "entities": [{"start": "0"}]},
    {"event": "bot", "timestamp": "today"},
    {"event": "slot", "name": "x", "value": 1, "metadata": "m"},
    {"event": 7}, {"event": None}, {"name": "x"}, {"event": "topic"}, {"event": ""},
]


def whole_schema_accepts(reply) -> bool:
    return not list(action_reply._reply_validator().iter_errors(reply))


def test_rasas_schema_is_still_one_part_per_event_type():
    """If this fails, Rasa's events schema changed shape: the by-type check is off
    (every reply goes through the whole schema) until bot/stores/action_reply.py is looked at."""
    parts = action_reply._parts_by_type(RemoteAction.action_response_format_spec())
    assert parts is not None and len(parts) == 23 and {"user", "bot", "slot", "action"} <= set(parts)
    assert action_reply._by_type_validators() is not None


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: str(e)[:60])
def test_the_by_type_check_accepts_exactly_what_the_whole_schema_accepts(event):
    for reply in ({"events": [event]}, {"events": [EVENTS[0], event], "responses": [{"text": "x"}]}):
        assert action_reply._valid_by_type(reply) == whole_schema_accepts(reply), reply


@pytest.mark.parametrize("reply", REPLIES + BAD_REPLIES + [{"events": None}, {"responses": "x"}])
def test_whole_replies_agree_too(reply):
    assert action_reply._valid_by_type(reply) == whole_schema_accepts(reply)


def test_a_valid_reply_does_not_touch_the_whole_schema(patched, monkeypatch):
    def whole():
        raise AssertionError("the oneOf schema was used for a valid reply")

    monkeypatch.setattr(action_reply, "_reply_validator", whole)
    assert patched._validate_action_result({"events": EVENTS[:12], "responses": [{"text": "oi"}]}) is True
