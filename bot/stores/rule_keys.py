"""RulePolicy's rule matching starts from the rules that follow the last action.

Rasa 3.6's ``RulePolicy._get_possible_keys`` checks every rule (149 in this
bot) against the conversation's newest state, then the survivors against
older states. A rule whose newest state names a previous action can only
match a conversation whose previous action is that one
(``_does_rule_match_state``: a set value that differs fails the rule), so
here the rules are indexed once by that action: the newest state is checked
against the rules that follow the conversation's last action plus those that
name none. Older states then go as in Rasa, and the walk stops once it is
past the longest rule still in play (a rule is applicable at every state
older than its own length: ``_is_rule_applicable``). Every check made is
Rasa's own ``_is_rule_applicable``; the answer is the same set.

Applied with the other Rasa patches when the tracker store is built;
``tests/integration/test_rule_keys.py`` pins Rasa's methods and compares
both answers at every prediction of realistic conversations.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Set, Text

from rasa.core.policies.rule_policy import SHOULD_NOT_BE_SET, RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.core.generator import State
from rasa.shared.nlu.constants import ACTION_NAME

_ORIGINAL = RulePolicy.__dict__["_get_possible_keys"]


@functools.lru_cache(maxsize=4096)
def _rule_length(rule_key: Text) -> int:
    return len(RulePolicy._rule_key_to_state(rule_key))


def _last_action(rule_key: Text) -> Text:
    """The previous action a rule's newest state requires ("" when it requires none)."""
    states = RulePolicy._rule_key_to_state(rule_key)
    action = ((states[-1].get(PREVIOUS_ACTION) or {}) if states else {}).get(ACTION_NAME)
    return action if isinstance(action, str) and action and action != SHOULD_NOT_BE_SET else ""


@dataclass(frozen=True)
class RuleIndex:
    keys: FrozenSet[Text]
    by_action: Dict[Text, FrozenSet[Text]]  # previous action -> the rules that require it
    any_action: FrozenSet[Text]  # rules that require no particular previous action

    @classmethod
    def of(cls, lookup: Dict[Text, Text]) -> "RuleIndex":
        groups: Dict[Text, Set[Text]] = {}
        for key in lookup:
            groups.setdefault(_last_action(key), set()).add(key)
        any_action = frozenset(groups.pop("", set()))
        return cls(frozenset(lookup), {a: frozenset(k) for a, k in groups.items()}, any_action)


_indexes: Dict[int, RuleIndex] = {}


def _index(lookup: Dict[Text, Text]) -> RuleIndex:
    index = _indexes.get(id(lookup))
    if index is None or index.keys != lookup.keys():  # a new or changed lookup
        index = _indexes[id(lookup)] = RuleIndex.of(lookup)
    return index


def possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[State]) -> Set[Text]:
    """Rasa's ``_get_possible_keys``, from the rules that can follow the last action."""
    if not states:
        return set(lookup.keys())
    index = _index(lookup)
    newest = states[-1]
    action = (newest.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    if isinstance(action, str):
        candidates = index.by_action.get(action, frozenset()) | index.any_action
    else:  # no previous action named (a conversation start, a typed action text): every rule
        candidates = index.keys
    keys = {key for key in candidates if self._is_rule_applicable(key, 0, newest)}
    for i, state in enumerate(reversed(states[:-1]), start=1):
        if not keys or i >= max(map(_rule_length, keys)):  # nothing can change any more
            break
        keys = {key for key in keys if self._is_rule_applicable(key, i, state)}
    return keys


def match_rules_by_last_action() -> None:
    """Replace ``RulePolicy._get_possible_keys`` (idempotent)."""
    if RulePolicy.__dict__["_get_possible_keys"] is not possible_keys:
        RulePolicy._get_possible_keys = possible_keys
