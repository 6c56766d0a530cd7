"""bot/stores/slot_copy.py: a slot's copy is what copy.copy made before, only faster."""
import copy

import rasa.shared.utils.common
from rasa.shared.core.domain import Domain
from rasa.shared.core.slots import AnySlot, CategoricalSlot, Slot, TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from bot.stores import slot_copy

MAPPINGS = [{"type": "from_entity", "entity": "cpf"}]


def default_copy(slot):
    """copy.copy's own way for an object without __copy__."""
    return copy._reconstruct(slot, None, *slot.__reduce_ex__(4))


def test_every_slot_class_rasa_has_is_copied_the_plain_way():
    """If this fails, Rasa gave a slot class copying of its own: look at bot/stores/slot_copy.py."""
    slot_copy.copy_slots_directly()
    for cls in [Slot, *rasa.shared.utils.common.all_subclasses(Slot)]:
        assert slot_copy.plain(cls), cls
        assert cls in slot_copy._PLAIN


def test_copies_equal_copy_copys_and_are_independent():
    slot_copy.copy_slots_directly()
    slots = [TextSlot("cpf", MAPPINGS, initial_value="52998224725"),
             CategoricalSlot("plan", MAPPINGS, values=["300", "500"], influence_conversation=True),
             AnySlot("any", MAPPINGS, initial_value={"a": [1]})]
    for slot in slots:
        slot.value = slot.value  # marks has_been_set, as a turn does
        ours = copy.copy(slot)
        assert type(ours) is type(slot) and ours is not slot
        assert ours.__dict__ == default_copy(slot).__dict__
        ours.value = "outro"
        assert slot.value != "outro"


def test_a_slot_class_with_copying_of_its_own_keeps_it():
    class Counted(TextSlot):
        def __getstate__(self):
            return {**self.__dict__, "copied": True}

    slot_copy.copy_slots_directly()
    assert not slot_copy.plain(Counted)
    assert copy.copy(Counted("x", MAPPINGS)).__dict__["copied"] is True


def test_a_tracker_gets_its_own_copies_of_the_domains_slots():
    slot_copy.copy_slots_directly()
    domain = Domain.load("domain.yml")
    tracker = DialogueStateTracker("s1", domain.slots)
    for slot in domain.slots:
        assert tracker.slots[slot.name] is not slot
        assert tracker.slots[slot.name].__dict__ == slot.__dict__
