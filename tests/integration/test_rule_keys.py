"""bot/stores/rule_keys.py: RulePolicy's matching that stops at the longest rule
in play must answer exactly what Rasa's full walk answers.

The project's model talks through the realistic conversations of the benches
(testing/conversations.py, the real action server): at every prediction both
versions run on the same rules and states and their sets are compared. If
Rasa changes its method, the pinned source hash fails and the shortcut is to
be looked at again."""
import asyncio
import hashlib
import inspect

from rasa.core.policies.rule_policy import RulePolicy

from bot.stores import rule_keys
from testing.conversations import CONVERSATIONS
from testing.rasa_server import agent_with_actions

# Rasa 3.6.21's RulePolicy._get_possible_keys and _is_rule_applicable.
RASA_SOURCE_SHA256 = {
    "_get_possible_keys": "2915fd81711e194c6d667728e00bd0e51e9c1c2791a0be14c55f0ef9938f9936",
    "_is_rule_applicable": "64a108b016b46e573d6020b755a6036439dc207a364b45c9ea5dcb0f18dc7068",
}


def test_rasa_still_matches_rules_the_way_the_shortcut_assumes():
    for name, digest in RASA_SOURCE_SHA256.items():
        source = inspect.getsource(rule_keys._ORIGINAL if name == "_get_possible_keys" else getattr(RulePolicy, name))
        assert hashlib.sha256(source.encode()).hexdigest() == digest, (name, source)


def test_the_shortcut_answers_what_rasa_answers_on_real_conversations(model_path, server_env, action_server,
                                                                       monkeypatch):
    compared, walked = [], []

    def both(self, lookup, states):
        ours, rasas = rule_keys.possible_keys(self, lookup, states), rule_keys._ORIGINAL(self, lookup, states)
        compared.append(ours == rasas)
        walked.append(len(states))
        return rasas

    monkeypatch.setattr(RulePolicy, "_get_possible_keys", both)

    async def talk():
        agent = await agent_with_actions(model_path, server_env)
        for n, conversation in enumerate(CONVERSATIONS):
            for text in conversation * 2:  # longer histories too
                await agent.handle_text(text, sender_id=f"rule-keys-{n}")

    asyncio.run(talk())
    assert len(compared) > 300 and max(walked) > 20, (len(compared), max(walked))
    assert all(compared), f"{compared.count(False)} of {len(compared)} predictions differ"
