"""Where the CPU of a turn goes in the Rasa process, component by component.

    .venv/bin/python bench/turn_profile.py MODEL.tar.gz [--turns 1000]

Loads the model in this process with the project's endpoints (our Redis
tracker and lock stores on db TEST_REDIS_DB under a throw-away prefix, the desk
event broker, the real action server started here on the demo ERP with
``STEP_UP_ACTIONS=none``), then drives ``--turns`` text turns of the
realistic conversations in ``testing/conversations.py`` one after another
through ``agent.handle_message``, as a channel does.

Every turn's process CPU time (``time.process_time``: all threads, so
TensorFlow's own count) is charged to the innermost measured component that
was running: each graph node (NLU components, policies, the graph's own
nodes), the tracker store's retrieve/save, the lock, the event broker, the
remote action's request building, HTTP call and reply validation. What no
component claims is "Rasa processor (rest)": the processor, dask, event
objects, logging. Turns run one at a time, so nothing else runs in between;
the action server is another process and its CPU is not counted here.

Prints CPU per turn (mean, median, p90), wall time per turn, and the table
of components by share. Figures go to docs/benchmarks.md. ``--cprofile
FILE`` also writes the measured turns' cProfile statistics (function level,
for `python -m pstats FILE`); CPU figures taken with it are inflated.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import functools
import inspect
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testing.conversations import turns  # noqa: E402
from testing.processes import VENV_BIN, Service, free_port, fresh_credentials, project_env  # noqa: E402


class Meter:
    """Exclusive process-CPU per label: a running component's time stops while
    an inner measured component runs and is charged to that one instead."""

    def __init__(self) -> None:
        self.totals: Dict[str, float] = defaultdict(float)
        self.calls: Dict[str, int] = defaultdict(int)
        self.stack: List[List] = []  # [label, started, inner]
        self.winners: Dict[str, int] = defaultdict(int)

    def enter(self, label: str) -> None:
        self.stack.append([label, time.process_time(), 0.0])

    def leave(self) -> None:
        label, started, inner = self.stack.pop()
        spent = time.process_time() - started
        self.totals[label] += spent - inner
        self.calls[label] += 1
        if self.stack:
            self.stack[-1][2] += spent

    def wrap(self, owner: type, name: str, label: Callable[..., str] | str) -> None:
        original = getattr(owner, name)
        name_of = label if callable(label) else (lambda *_: label)
        meter = self

        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def measured(*args, **kwargs):
                meter.enter(name_of(*args))
                try:
                    return await original(*args, **kwargs)
                finally:
                    meter.leave()
        else:
            @functools.wraps(original)
            def measured(*args, **kwargs):
                meter.enter(name_of(*args))
                try:
                    return original(*args, **kwargs)
                finally:
                    meter.leave()
        if isinstance(inspect.getattr_static(owner, name), staticmethod):
            measured = staticmethod(measured)
        setattr(owner, name, measured)

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()
        self.winners.clear()


def node_label(node, *_args) -> str:
    """``run_components.tfidf_intent_classifier.TfidfIntentClassifier2`` -> ``TfidfIntentClassifier``."""
    name = re.sub(r"^run_", "", node._node_name)
    name = re.sub(r"\d+$", "", name).rsplit(".", 1)[-1]
    return f"graph node: {name}"


def instrument(meter: Meter) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.engine.graph import GraphNode
    from rasa.utils.endpoints import EndpointConfig

    from bot.stores.lock import RedisTicketLockStore
    from bot.stores.tracker import AppendOnlyRedisTrackerStore
    from channels.desk.broker import DeskEventBroker

    meter.wrap(GraphNode, "__call__", node_label)
    meter.wrap(AppendOnlyRedisTrackerStore, "retrieve", "tracker store: retrieve")
    meter.wrap(AppendOnlyRedisTrackerStore, "save", "tracker store: save")
    meter.wrap(RedisTicketLockStore, "_run", "lock store (Redis scripts)")
    meter.wrap(DeskEventBroker, "publish", "event broker")
    meter.wrap(RemoteAction, "_action_call_format", "remote action: request body (tracker state, domain)")
    meter.wrap(EndpointConfig, "request", "remote action: HTTP call (aiohttp, JSON both ways)")
    meter.wrap(RemoteAction, "_validate_action_result", "remote action: reply schema validation")
    meter.wrap(RemoteAction, "_utter_responses", "remote action: replies to events")
    count_deciding_policies(meter)


def count_deciding_policies(meter: Meter) -> None:
    """Which policy's prediction won each time (a policy that never wins only costs CPU)."""
    from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble

    original = DefaultPolicyPredictionEnsemble.combine_predictions

    def counted(self, predictions, tracker, domain):
        prediction = original(self, predictions, tracker, domain)
        name = (prediction.policy_name or "none").rsplit(".", 1)[-1]
        meter.winners[re.sub(r"^\d+_", "", name)] += 1
        return prediction

    DefaultPolicyPredictionEnsemble.combine_predictions = counted


async def drive(model: str, count: int, meter: Meter, prefix: str, profile_to: Optional[str] = None,
                gc_freeze: bool = True) -> Dict[str, List[float]]:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    agent = await load_agent(model_path=model, endpoints=AvailableEndpoints.read_endpoints("endpoints.yml"))
    warm = turns(60)
    for number, text in warm:  # first calls build caches, connections, TF graphs
        await agent.handle_message(UserMessage(text, CollectingOutputChannel(), f"{prefix}-warm{number}"))
    if gc_freeze:  # as a serving worker does (channels/common/workers.py)
        from channels.common.workers import freeze_loaded_objects
        await freeze_loaded_objects()
    meter.reset()
    profiler = cProfile.Profile() if profile_to else None
    if profiler:
        profiler.enable()
    cpu: List[float] = []
    wall: List[float] = []
    empty = 0
    for number, text in turns(count):
        output = CollectingOutputChannel()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        await agent.handle_message(UserMessage(text, output, f"{prefix}-c{number}"))
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
        empty += not output.messages
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)
    if empty:
        print(f"WARNING: {empty} turns got no reply", file=sys.stderr)
    return {"cpu": cpu, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--cprofile", metavar="FILE", help="write cProfile statistics of the measured turns")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="leave the loaded model in the garbage collector's generations (before stop 26)")
    args = parser.parse_args()

    from bot.settings import Settings

    base = Settings.from_env().redis
    db = os.environ.get("TEST_REDIS_DB", "15")
    prefix = f"profile{os.getpid()}"
    action_port = free_port()
    env = project_env(
        REDIS_URL=dataclasses.replace(base, db=int(db)).url,
        REDIS_KEY_PREFIX=prefix, ISP_BACKEND="demo", STEP_UP_ACTIONS="none",
        ISP_DEMO_DB=str(Path(tempfile.mkdtemp()) / "demo.sqlite3"),
        ACTION_PORT=str(action_port), ACTION_SERVER_URL=f"http://127.0.0.1:{action_port}/webhook",
        ACTION_SERVER_SANIC_WORKERS="1", **fresh_credentials(),
    )
    os.environ.update(env)
    logs = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    actions = Service(
        "actions", [VENV_BIN / "rasa", "run", "actions", "--actions", "actions", "--port", str(action_port)],
        env, logs,
    ).start(f"http://127.0.0.1:{action_port}/health")
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO)  # as `rasa run` without --debug
    configure_structlog(logging.INFO)
    from bot.pii import install_log_masking

    install_log_masking()  # the record factory every Rasa process of ours runs with
    meter = Meter()
    instrument(meter)
    try:
        # Not asyncio.run: its final cancellation of the store's background tasks
        # (the lock store's release listener) can hang on a Redis close; the
        # figures are taken by then, so the loop is left with them pending.
        result = asyncio.new_event_loop().run_until_complete(drive(args.model, args.turns, meter, prefix,
                                                                   args.cprofile, not args.no_gc_freeze))
    finally:
        actions.stop()
        import redis

        store = redis.Redis(host=base.host, port=base.port, db=int(db), password=base.password or None)
        for key in store.scan_iter(f"*{prefix}*", count=1000):
            store.delete(key)

    cpu, wall = result["cpu"], result["wall"]
    total = sum(cpu)
    claimed = sum(meter.totals.values())
    rows = dict(meter.totals)
    rows["Rasa processor (rest: processor, dask, events, logging)"] = total - claimed
    print(f"model {Path(args.model).name}, {len(cpu)} turns, one at a time, in one process")
    print(f"  CPU per turn   mean {statistics.mean(cpu) * 1000:6.1f} ms   median {statistics.median(cpu) * 1000:6.1f} ms"
          f"   p90 {statistics.quantiles(cpu, n=10)[-1] * 1000:6.1f} ms")
    print(f"  wall per turn  mean {statistics.mean(wall) * 1000:6.1f} ms   median {statistics.median(wall) * 1000:6.1f} ms")
    print(f"  {'component':<62} {'share':>6} {'ms/turn':>8} {'calls/turn':>10}")
    for label, spent in sorted(rows.items(), key=lambda item: -item[1]):
        calls = meter.calls.get(label, 0) / len(cpu)
        print(f"  {label:<62} {spent / total * 100:5.1f}% {spent / len(cpu) * 1000:8.2f} {calls:10.2f}")
    decided = ", ".join(f"{name} {count}" for name, count in sorted(meter.winners.items(), key=lambda i: -i[1]))
    print(f"  predictions won: {decided}")
    print(f"cpu per turn: median {statistics.median(cpu) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
