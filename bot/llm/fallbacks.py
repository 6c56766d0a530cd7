"""Every message that went to the fallback, kept for the designers' review loop.

Each is stored masked (``mask_for_model``) in the Redis stream
``<prefix>:llm:fallbacks`` (the newest ``LLM_FALLBACK_LOG_MAX``, default
10,000) with NLU's top intents and where the answer came from.
:func:`to_nlu_yaml` turns them into NLU training data a designer reviews and
moves into ``data/nlu/`` (``python -m bot.llm export-fallbacks``).
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bot.llm.guardrails import mask_for_model
from bot.redis_pool import redis_key
from bot.settings import env_int

# Intents that are not a guess at what the customer meant.
NOT_GUESSES = {"nlu_fallback"}
NO_GUESS_INTENT = "out_of_scope"


def log_key() -> str:
    return redis_key("llm", "fallbacks")


async def record(redis, text: str, intents: Sequence[Tuple[str, float]], source: str,
                 channel: Optional[str] = None) -> None:
    """Keep one fallback message (masked) with its top intents and answer source."""
    entry = {
        "ts": round(time.time(), 3),
        "text": mask_for_model((text or "")[:500]),
        "intents": [[name, round(float(conf), 4)] for name, conf in intents],
        "source": source,
        "channel": channel or "",
    }
    await redis.xadd(log_key(), {"m": json.dumps(entry, ensure_ascii=False)},
                     maxlen=env_int("LLM_FALLBACK_LOG_MAX", 10000, 1), approximate=True)


async def read_all(redis, since: Optional[float] = None) -> List[Dict[str, Any]]:
    """Stored fallbacks, oldest first (``since``: a Unix time)."""
    start = f"{int(since * 1000)}-0" if since else "-"
    out, cursor = [], start
    while True:
        batch = await redis.xrange(log_key(), min=cursor, max="+", count=1000)
        for entry_id, fields in batch:
            out.append(json.loads(fields["m"]))
        if len(batch) < 1000:
            return out
        last = batch[-1][0]
        cursor = f"({last}"


def _quote(text: str) -> str:
    """One example line of a YAML block scalar: a single line, no leading dash trouble."""
    return " ".join(text.split())


def to_nlu_yaml(entries: Sequence[Dict[str, Any]]) -> str:
    """Rasa NLU YAML, one block per guessed intent, each example commented with
    NLU's guesses, how often it came and what answered it. Duplicates merged."""
    merged: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
    for entry in entries:
        text = _quote(entry.get("text") or "")
        if not text:
            continue
        item = merged.setdefault(text.lower(), {"text": text, "count": 0, "sources": set(),
                                                "intents": entry.get("intents") or []})
        item["count"] += 1
        item["sources"].add(entry.get("source") or "?")
    by_intent: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
    for item in merged.values():
        guesses = [(n, c) for n, c in item["intents"] if n not in NOT_GUESSES]
        item["guesses"] = guesses[:3]
        by_intent.setdefault(guesses[0][0] if guesses else NO_GUESS_INTENT, []).append(item)
    lines = [
        "# Mensagens que foram para o fallback (action_llm_fallback), mascaradas.",
        "# Revise: mova cada exemplo para a intent certa (o palpite do NLU esta em",
        "# cada bloco), apague o que nao serve e junte o resto a data/nlu/*.yml.",
        "# Nunca copie para o treino frases que estao em tests/.",
        'version: "3.1"',
        "nlu:" if by_intent else "nlu: []",
    ]
    for intent, items in by_intent.items():
        lines.append(f"# palpite do NLU: {intent}")
        for item in items:
            guesses = ", ".join(f"{n} {c:.2f}" for n, c in item["guesses"]) or "sem palpite"
            sources = ", ".join(sorted(item["sources"]))
            lines.append(f"#   {json.dumps(item['text'], ensure_ascii=False)}: {guesses};"
                         f" {item['count']}x; respondido por: {sources}")
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {item['text']}" for item in items)
    return "\n".join(lines) + "\n"
