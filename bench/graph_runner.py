"""Rasa's graph runs: dask's scheduler vs the planned order (bot/stores/graph_runner.py).

    .venv/bin/python bench/graph_runner.py MODEL.tar.gz [--rounds 5]

Loads the model in this process and, for every text of the realistic
conversations (testing/conversations.py), runs the NLU graph and the policy
graph (on an empty conversation) once with each runner, interleaved round by
round so machine drift hits both alike. Prints the CPU per NLU + policy run
pair, median over the rounds; a turn makes one NLU run and about 2.3 policy
runs.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def measure(model: str, rounds: int) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.stores import graph_runner
    from testing.conversations import CONVERSATIONS

    agent = await load_agent(model_path=model)
    processor = agent.processor
    runner = processor.graph_runner
    texts = [text for conversation in CONVERSATIONS for text in conversation]
    tracker = DialogueStateTracker.from_events("bench", [], processor.domain.slots)
    nlu, core = [processor.model_metadata.nlu_target], [processor.model_metadata.core_target]
    runners = {"dask (Rasa's)": graph_runner._ORIGINAL, "planned order": graph_runner.run}
    cpu = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.process_time()
            for text in texts:
                run(runner, inputs={"__message__": [UserMessage(text)], "__tracker__": tracker}, targets=nlu)
                run(runner, inputs={"__tracker__": tracker}, targets=core)
            cpu[name].append((time.process_time() - start) / len(texts) * 1000)
    for name, values in cpu.items():
        print(f"{name:14} {statistics.median(values):.3f} ms CPU per NLU + policy run "
              f"(rounds: {', '.join(f'{v:.3f}' for v in values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.model, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
