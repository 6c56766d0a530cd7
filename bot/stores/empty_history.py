"""MemoizationPolicy given a history whose turns are all rule turns: no memory, not a crash.

MemoizationPolicy reads the conversation without the turns only rules
decide (``ignore_rule_only_turns``: a form asking again and again is such a
turn). A conversation read through the tracker store's window
(``bot/stores/tracker.py``: the last ~``window_events`` events, the state
before them rebuilt as slots and the active loop) can start inside a form,
so every turn it holds may be such a turn, and the history is then empty.
Rasa 3.6's featurizer takes the last state of every history
(``TrackerFeaturizer._choose_last_user_input``: ``states[-1]``) and raised
``IndexError``: the turn failed (a 500 / an unanswered WhatsApp message) for
a customer who kept typing something else than the code the form asked
for, about a dozen times (found by bench/whatsapp_ack.py, docs/benchmarks.md).
Here an empty history is left as it is; Memoization recalls nothing for it
(``_create_feature_key([])`` is None, Rasa's own rule) and RulePolicy, which
reads every turn, decides as it does for such conversations anyway.

Applied with the other Rasa patches when the tracker store is built;
``tests/integration/test_empty_history.py`` replays such a conversation.
"""
from __future__ import annotations

from typing import List

from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.shared.core.generator import State

_ORIGINAL = TrackerFeaturizer.__dict__["_choose_last_user_input"]


def choose_last_user_input(self: TrackerFeaturizer, trackers_as_states: List[List[State]],
                           use_text_for_last_user_input: bool) -> None:
    """Rasa's method on the histories that have a last state (it edits them in place)."""
    _ORIGINAL(self, [states for states in trackers_as_states if states], use_text_for_last_user_input)


def allow_empty_histories() -> None:
    """Replace ``TrackerFeaturizer._choose_last_user_input`` (idempotent)."""
    if TrackerFeaturizer.__dict__["_choose_last_user_input"] is not choose_last_user_input:
        TrackerFeaturizer._choose_last_user_input = choose_last_user_input
