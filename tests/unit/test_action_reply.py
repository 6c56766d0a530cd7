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
