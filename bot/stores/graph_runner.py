"""Rasa's graph run in a planned order, without dask's scheduler on every turn.

Rasa 3.6 runs the NLU graph once a turn and the policy graph at every
prediction (about 3.3 runs a turn here) through ``DaskGraphRunner.run``:
it derives the minimal schema for the targets, builds a dask graph, formats
a debug line with every input (even when debug logging is off) and calls
``dask.get``, whose synchronous scheduler costs about 190 us for a 7-node
graph before any node runs: 0.5-0.8 ms of a 5 ms turn. The nodes are the
same objects every time and only the inputs change, so here the order is
worked out once per set of targets and each run calls the nodes in that
order, handing each one its dependencies' results as dask would: a node
is ``(GraphNode, *needs)``, each need the result of the node or input of
that name, an input ``(name, value)``; a need that names nothing is passed
as the string itself (dask's rule for keys not in the graph). Errors are
raised as before (``RuntimeError`` -> ``GraphRunError``); the input
name clash is refused as before.

Applied with the other Rasa patches when the tracker store is built;
``tests/integration/test_graph_runner.py`` pins Rasa's method and compares
both runners' results on the project's model.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

logger = logging.getLogger(__name__)

_ORIGINAL = DaskGraphRunner.__dict__["run"]

Plan = Tuple[List[Text], Dict[Text, Tuple[Any, Tuple[Text, ...]]]]


def _plan(runner: DaskGraphRunner, targets: Tuple[Text, ...]) -> Plan:
    """The nodes the targets need, dependencies first, and each node's needs (cached per runner)."""
    plans: Dict[Tuple[Text, ...], Plan] = runner.__dict__.setdefault("_planned_runs", {})
    plan = plans.get(targets)
    if plan is None:
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        graph = {name: (runner._instantiated_nodes[name], tuple(node.needs.values()))
                 for name, node in schema.nodes.items()}
        order: List[Text] = []
        done: set = set()

        def visit(name: Text) -> None:
            if name in done or name not in graph:
                return
            done.add(name)
            for need in graph[name][1]:
                visit(need)
            order.append(name)

        for name in graph:
            visit(name)
        plan = plans[targets] = (order, graph)
    return plan


def run(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None,
        targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    """Rasa's ``DaskGraphRunner.run``: same results, in a planned order."""
    run_targets = targets if targets else self._graph_schema.target_names
    order, graph = _plan(self, tuple(run_targets))
    results: Dict[Text, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in graph:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        results[name] = (name, value)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("Running graph with inputs: %s, targets: %s and %s.", inputs, targets,
                     self._execution_context)
    try:
        for name in order:
            if name in results:  # an input of that name stands for the node (dask's graph too)
                continue
            node, needs = graph[name]
            results[name] = node(*(results.get(need, need) for need in needs))
        return dict(results.get(target, target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


def run_graphs_in_a_planned_order() -> None:
    """Replace ``DaskGraphRunner.run`` (idempotent)."""
    if DaskGraphRunner.__dict__["run"] is not run:
        DaskGraphRunner.run = run
