"""Event classes looked up by type name from a table, not by walking every
subclass of ``Event`` each time.

Rasa 3.6's ``Event.resolve_by_type`` (used for every event read back:
tracker retrieve, action-server replies) calls ``all_subclasses(Event)``,
a recursive walk with ``inspect.isabstract`` on each class, then scans the
list. A turn reads back about 20 events, so that walk cost about 1 ms of a
7 ms turn (bench/turn_profile.py --cprofile). The table holds, per type
name, the class Rasa's own scan would return first; a name not in it (an
event class defined later, or none) goes to Rasa's own method, which also
raises the same error for an unknown name.

Applied with the other store patches when the tracker store is built;
``tests/unit/test_event_types.py`` fails if Rasa changes the method.
"""
from __future__ import annotations

from typing import Dict, Optional, Text, Type

import rasa.shared.utils.common
from rasa.shared.core.events import Event

_ORIGINAL = Event.__dict__["resolve_by_type"].__func__


def event_table() -> Dict[Text, Type[Event]]:
    """type name -> the first class with it in ``all_subclasses(Event)`` order (Rasa's choice)."""
    table: Dict[Text, Type[Event]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    return table


def resolve_from_table(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _TABLE.get(type_name)
    return found if found is not None else _ORIGINAL(type_name, default)


_TABLE: Dict[Text, Type[Event]] = {}


def resolve_event_types_from_a_table() -> None:
    """Replace ``Event.resolve_by_type`` (idempotent); the table is built now,
    when every event class Rasa and the project define has been imported."""
    if Event.__dict__["resolve_by_type"].__func__ is resolve_from_table:
        return
    _TABLE.update(event_table())
    Event.resolve_by_type = staticmethod(resolve_from_table)
