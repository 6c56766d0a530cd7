"""LLM fallback settings, from the environment (README, configuration)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from bot.settings import env_float, env_int


_float = env_float


@dataclass(frozen=True)
class LlmSettings:
    api_key: str
    base_url: str
    model: str
    timeout_seconds: float
    max_answer_chars: int
    max_tokens: int
    breaker_failures: int
    breaker_cooldown_seconds: int
    min_score: float  # best passage sent as the answer without a model
    context_min_score: float  # passages given to the model
    stream: bool

    @property
    def enabled(self) -> bool:
        """No key, no model: answers come from the knowledge base alone."""
        return bool(self.api_key)

    @classmethod
    def from_env(cls) -> "LlmSettings":
        return cls(
            api_key=os.environ.get("OPENAI_API_KEY", "").strip(),
            base_url=os.environ.get("OPENAI_BASE_URL", "").strip() or "https://api.openai.com/v1",
            model=os.environ.get("LLM_MODEL", "").strip() or "gpt-4o-mini",
            timeout_seconds=_float("LLM_TIMEOUT_SECONDS", 8.0, 0.1),
            max_answer_chars=env_int("LLM_MAX_ANSWER_CHARS", 700, 100),
            max_tokens=env_int("LLM_MAX_TOKENS", 300, 16),
            breaker_failures=env_int("LLM_BREAKER_FAILURES", 3, 1),
            breaker_cooldown_seconds=env_int("LLM_BREAKER_COOLDOWN_SECONDS", 60, 1),
            min_score=_float("KNOWLEDGE_MIN_SCORE", 0.22),
            context_min_score=_float("KNOWLEDGE_CONTEXT_MIN_SCORE", 0.08),
            stream=os.environ.get("LLM_STREAM", "true").strip().lower() not in ("0", "false", "no", "off"),
        )
