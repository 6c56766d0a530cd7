"""bot/stores/event_types.py: Rasa's event lookup by type name, from a table.

The table must answer exactly what Rasa's own scan answers, for every type
name, and unknown names must still fail the same way; if Rasa changes its
method, the pinned source hash fails and the table is to be looked at again.
"""
import hashlib
import inspect

import pytest
import rasa.shared.utils.common
from rasa.shared.core.events import ActionExecuted, Event, UserUttered

from bot.stores import event_types

# Rasa 3.6.21's own Event.resolve_by_type.
RASA_RESOLVE_SOURCE_SHA256 = "b5cf570fa7f286c7059ec73d8880528d03a78b28cf4e80285a46079c0fa65968"
ORIGINAL = event_types._ORIGINAL


def test_rasa_still_resolves_event_types_the_way_the_table_copies():
    digest = hashlib.sha256(inspect.getsource(ORIGINAL).encode()).hexdigest()
    assert digest == RASA_RESOLVE_SOURCE_SHA256, inspect.getsource(ORIGINAL)


def test_the_table_answers_what_rasas_scan_answers_for_every_name():
    event_types.resolve_event_types_from_a_table()
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is ORIGINAL(name), name
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted


def test_unknown_names_behave_as_in_rasa():
    event_types.resolve_event_types_from_a_table()
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")


def test_events_read_back_are_the_same():
    event_types.resolve_event_types_from_a_table()
    events = [UserUttered("oi", {"name": "greet", "confidence": 0.9}), ActionExecuted("utter_greet")]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events
