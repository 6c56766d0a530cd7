"""LLM fallback grounded in the provider's knowledge base (issue 6).

- ``knowledge``: ``data/knowledge/*.md`` split by heading, TF-IDF retrieval;
- ``responder``: knowledge base -> model -> best passage -> "nao entendi";
- ``guardrails``: masking before the model, checks after it;
- ``client`` / ``breaker`` / ``metrics``: the model call, its circuit breaker
  and counters shared through Redis;
- ``streaming``: partial answers for WebSocket and socket.io;
- ``summary``: the handoff summary for the atendente;
- ``fallbacks``: the log of fallback messages and its NLU YAML export
  (``python -m bot.llm export-fallbacks``).

Nothing here imports Rasa, ``actions`` or ``channels``.
"""
