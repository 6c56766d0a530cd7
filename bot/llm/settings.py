"""LLM fallback settings, from the environment (README, configuration), read once."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.settings import env_bool, env_float, env_int, env_str


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
    knowledge_dir: str = ""  # "": data/knowledge of this checkout
    knowledge_reload_seconds: float = 2.0  # edited files noticed this often

    @property
    def enabled(self) -> bool:
        """No key, no model: answers come from the knowledge base alone."""
        return bool(self.api_key)

    @classmethod
    def from_env(cls) -> "LlmSettings":
        return cls(
            api_key=env_str("OPENAI_API_KEY"),
            base_url=env_str("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            model=env_str("LLM_MODEL", "gpt-4o-mini"),
            timeout_seconds=env_float("LLM_TIMEOUT_SECONDS", 8.0, 0.1),
            max_answer_chars=env_int("LLM_MAX_ANSWER_CHARS", 700, 100),
            max_tokens=env_int("LLM_MAX_TOKENS", 300, 16),
            breaker_failures=env_int("LLM_BREAKER_FAILURES", 3, 1),
            breaker_cooldown_seconds=env_int("LLM_BREAKER_COOLDOWN_SECONDS", 60, 1),
            min_score=env_float("KNOWLEDGE_MIN_SCORE", 0.22),
            context_min_score=env_float("KNOWLEDGE_CONTEXT_MIN_SCORE", 0.08),
            stream=env_bool("LLM_STREAM", True),
            knowledge_dir=env_str("KNOWLEDGE_DIR"),
            knowledge_reload_seconds=env_float("KNOWLEDGE_RELOAD_SECONDS", 2.0),
        )


@lru_cache(maxsize=1)
def llm_settings() -> LlmSettings:
    """The process's LLM settings, read once."""
    return LlmSettings.from_env()
