"""Slots copied by filling a new object's ``__dict__``, as ``copy.copy`` does, faster.

Every ``DialogueStateTracker`` Rasa 3.6 builds copies each of the domain's
slots with ``copy.copy`` (``trackers.py``: ``{slot.name: copy.copy(slot)}``),
and a turn builds about nine (the tracker read back, then one replay per
policy prediction): about 200 copies a turn through ``__reduce_ex__`` and
``copyreg``, 1.9 us each here against 0.3 us for the same result made
directly. For a class with a plain ``__dict__`` (no ``__slots__``, no
``__getstate__``/``__reduce__``/``__copy__`` of its own: every slot type
Rasa has), ``copy.copy`` makes ``cls.__new__(cls)`` and updates its
``__dict__`` with the original's; this does exactly that. Any other slot
class (defined later, with its own copying) keeps ``copy.copy``'s way.

Applied with the other Rasa patches when the tracker store is built;
``tests/unit/test_slot_copy.py`` checks every slot class and the copies.
"""
from __future__ import annotations

import copy
from typing import Any, FrozenSet, Type

import rasa.shared.utils.common
from rasa.shared.core.slots import Slot

_OWN_COPYING = ("__slots__", "__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__copy__")


def plain(cls: Type[Any]) -> bool:
    """Whether ``copy.copy`` copies instances of ``cls`` by ``__new__`` + ``__dict__`` update
    (an empty ``__slots__``, as ``ABC``'s, adds no state)."""
    for klass in cls.__mro__[:-1]:
        for name in _OWN_COPYING:
            if name in klass.__dict__ and not (klass is Slot and name == "__copy__") and not (
                    name == "__slots__" and not klass.__dict__[name]):
                return False
    return True


_PLAIN: FrozenSet[Type[Any]] = frozenset()


def copy_slot(self: Slot) -> Slot:
    cls = type(self)
    if cls not in _PLAIN:  # a class with copying of its own: copy.copy's way
        return copy._reconstruct(self, None, *self.__reduce_ex__(4))  # type: ignore[attr-defined]
    new = cls.__new__(cls)
    new.__dict__.update(self.__dict__)
    return new


def copy_slots_directly() -> None:
    """Give ``Slot`` this ``__copy__`` (idempotent); the slot classes are checked now."""
    global _PLAIN
    classes = [Slot, *rasa.shared.utils.common.all_subclasses(Slot)]
    _PLAIN = frozenset(cls for cls in classes if plain(cls))
    Slot.__copy__ = copy_slot  # type: ignore[attr-defined]
