"""bot/stores/graph_runner.py: Rasa's graphs run in a planned order must give
what dask gave.

The project's model talks through the realistic conversations of the benches
(testing/conversations.py, the real action server): every graph run (NLU once
a turn, the policies at each prediction) is made by both runners on equal
inputs and the results compared. If Rasa changes its runner, the pinned
source hashes fail and the planned runner is to be looked at again."""
import asyncio
import copy
import hashlib
import inspect

import pytest
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.nlu.training_data.message import Message

from bot.stores import graph_runner
from testing.conversations import CONVERSATIONS
from testing.rasa_server import agent_with_actions

# Rasa 3.6.21's DaskGraphRunner.run, _build_dask_graph and _add_inputs_to_graph.
RASA_SOURCE_SHA256 = {
    "run": "45f0f52f574f3aa9546a552bf671183e171092c18b66e97f5771a7fa295de37e",
    "_build_dask_graph": "5bb99f974d512a36acb61caaf77aafc851b90c04ce4d02c262f230c75086cbee",
    "_add_inputs_to_graph": "d04a0ca2df6241c16997b89d63e2ca89cd1d43bd5f9920843a2a86cb4286ac73",
}


def test_rasa_still_runs_graphs_the_way_the_planned_runner_copies():
    for name, digest in RASA_SOURCE_SHA256.items():
        method = graph_runner._ORIGINAL if name == "run" else getattr(DaskGraphRunner, name)
        source = inspect.getsource(method)
        assert hashlib.sha256(source.encode()).hexdigest() == digest, (name, source)


def comparable(value):
    if isinstance(value, list) and all(isinstance(item, Message) for item in value):
        return [item.as_dict() for item in value]
    assert isinstance(value, PolicyPrediction), type(value)
    return value


@pytest.fixture
def agent(model_path, server_env):
    loop = asyncio.new_event_loop()
    yield loop, loop.run_until_complete(agent_with_actions(model_path, server_env))
    loop.close()


def test_the_planned_runner_gives_what_dask_gives_on_real_conversations(agent, action_server, monkeypatch):
    loop, loaded = agent
    runs = {"nlu": 0, "policies": 0}

    def both(self, inputs=None, targets=None):
        theirs = graph_runner._ORIGINAL(self, copy.deepcopy(inputs), targets)
        ours = graph_runner.run(self, inputs, targets)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert comparable(ours[key]) == comparable(theirs[key]), key
        runs["nlu" if "__message__" in (inputs or {}) else "policies"] += 1
        return ours

    monkeypatch.setattr(DaskGraphRunner, "run", both)

    async def talk():
        for n, conversation in enumerate(CONVERSATIONS):
            for text in conversation:
                await loaded.handle_text(text, sender_id=f"graph-runner-{n}")

    loop.run_until_complete(talk())
    assert runs["nlu"] >= 140 and runs["policies"] >= 300, runs


def test_an_input_named_like_a_node_is_refused_as_before(agent):
    _, loaded = agent
    runner = loaded.processor.graph_runner
    node = next(iter(runner._instantiated_nodes))
    for run in (graph_runner._ORIGINAL, graph_runner.run):
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            run(runner, inputs={"__message__": node}, targets=[loaded.processor.model_metadata.nlu_target])
