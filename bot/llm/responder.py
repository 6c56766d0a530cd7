"""Answer a message NLU could not place: knowledge base first, then the model.

Order of decisions (each step falls through to the next):

1. an injection attempt gets the safe standard answer, the model never sees it;
2. with a key, passages above ``KNOWLEDGE_CONTEXT_MIN_SCORE`` and the breaker
   closed: the model answers from them (streamed to ``on_partial`` sentence by
   sentence, each sentence checked before it leaves); an answer failing
   :func:`bot.llm.guardrails.check_answer` is dropped;
3. the best passage, when its score reaches ``KNOWLEDGE_MIN_SCORE``;
4. nothing: the caller says it did not understand and offers options.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, List, Optional

from redis.exceptions import RedisError

from bot.llm import metrics
from bot.llm.breaker import Breaker
from bot.llm.client import LlmClient, LlmError
from bot.llm.guardrails import (cap_length, check_answer, looks_like_injection,
                                mask_for_model)
from bot.llm.knowledge import Hit, KnowledgeBase
from bot.llm.prompt import SYSTEM_PROMPT, build_messages
from bot.llm.settings import LlmSettings, llm_settings
from bot.metrics import record_unexpected
from bot.redis_pool import get_redis

logger = logging.getLogger(__name__)

OnPartial = Callable[[str], Awaitable[None]]

SAFE_ANSWER = (
    "Eu posso te ajudar com assuntos da sua internet: fatura e PIX, conexao, planos, "
    "visita tecnica ou falar com um atendente. O que voce precisa?"
)

# Answer sources (also the metric label and what the fallback export shows).
LLM, KNOWLEDGE, NOT_UNDERSTOOD, INJECTION = "llm", "knowledge", "not_understood", "injection"


@dataclass
class Reply:
    text: Optional[str]  # None: nothing to say, the caller offers options
    source: str
    hits: List[Hit] = field(default_factory=list)
    streamed: bool = False  # partial chunks were sent before this final text
    note: str = ""  # why the model was not used (breaker_open, timeout, rejected:...)


class SentenceStream:
    """Forwards the model's output sentence by sentence, each checked first;
    stops for good at the first sentence that fails or beyond the length cap."""

    def __init__(self, on_partial: OnPartial, passages: List[str], limit: int):
        self.on_partial = on_partial
        self.passages = passages
        self.limit = limit
        self.buffer = ""
        self.sent_chars = 0
        self.stopped = False
        self.sent = False

    async def feed(self, delta: str) -> None:
        self.buffer += delta
        parts = re.split(r"(?<=[.!?\n])\s+", self.buffer)
        for sentence in parts[:-1]:
            await self._emit(sentence)
        self.buffer = parts[-1]

    async def _emit(self, sentence: str) -> None:
        if self.stopped or not sentence.strip():
            return
        if (check_answer(sentence, SYSTEM_PROMPT, self.passages)
                or self.sent_chars + len(sentence) > self.limit):
            self.stopped = True
            return
        self.sent_chars += len(sentence) + 1
        try:
            await self.on_partial(sentence.strip())
            self.sent = True
        except (RedisError, OSError) as error:  # a preview lost is not a turn lost
            logger.warning("llm: partial answer not delivered: %s", error)
            self.stopped = True
        except Exception:  # a bug in a channel's path: the final answer still goes out
            logger.exception("llm: partial answer failed")
            record_unexpected("llm_partial")
            self.stopped = True


class Responder:
    def __init__(self, settings: LlmSettings, knowledge: KnowledgeBase, redis,
                 client: Optional[LlmClient] = None):
        self.settings = settings
        self.knowledge = knowledge
        self.redis = redis
        self.client = client or (LlmClient(settings) if settings.enabled else None)
        self.breaker = Breaker(redis, settings.breaker_failures, settings.breaker_cooldown_seconds)

    _shared: Dict[int, "Responder"] = {}
    _knowledge: Optional[KnowledgeBase] = None

    @classmethod
    def shared(cls) -> "Responder":
        """One per event loop (the SDK's HTTP pool is bound to it), one knowledge base."""
        loop_id = id(asyncio.get_event_loop())
        if loop_id not in cls._shared:
            if cls._knowledge is None:
                cls._knowledge = KnowledgeBase.from_env()
            cls._shared[loop_id] = cls(llm_settings(), cls._knowledge, get_redis())
        return cls._shared[loop_id]

    async def answer(self, text: str, on_partial: Optional[OnPartial] = None) -> Reply:
        masked = mask_for_model(text)
        hits = self.knowledge.search(masked, 3)
        if looks_like_injection(text):
            logger.info("llm: prompt-injection attempt answered with the safe answer")
            return Reply(SAFE_ANSWER, INJECTION, hits)
        note = ""
        context = [hit for hit in hits if hit.score >= self.settings.context_min_score]
        if self.client and context:
            reply, note = await self._ask_model(masked, context, on_partial)
            if reply:
                return reply
        if hits and hits[0].score >= self.settings.min_score:
            best = hits[0].passage
            text = cap_length(f"*{best.heading}*\n{best.text}", self.settings.max_answer_chars)
            return Reply(text, KNOWLEDGE, hits, note=note)
        return Reply(None, NOT_UNDERSTOOD, hits, note=note)

    async def _ask_model(self, masked: str, context: List[Hit],
                         on_partial: Optional[OnPartial]):
        if not await self.breaker.allows():
            return None, "breaker_open"
        passages = [hit.passage.text for hit in context]
        stream = (SentenceStream(on_partial, passages, self.settings.max_answer_chars)
                  if on_partial and self.settings.stream else None)
        try:
            completion = await self.client.complete(
                build_messages(masked, context), stream.feed if stream else None)
        except LlmError as error:
            logger.warning("llm: %s; answering without the model", error)
            await self.breaker.failure()
            await metrics.record_call(self.redis, error.kind, self.settings.timeout_seconds)
            return None, error.kind
        await self.breaker.success()
        problem = check_answer(completion.text, SYSTEM_PROMPT, passages)
        outcome = "rejected" if problem else "ok"
        await metrics.record_call(self.redis, outcome, completion.seconds,
                                  completion.prompt_tokens, completion.completion_tokens)
        if problem:
            logger.warning("llm: answer rejected (%s)", problem)
            return None, f"rejected:{problem}"
        text = cap_length(completion.text, self.settings.max_answer_chars)
        return Reply(text, LLM, context, streamed=bool(stream and stream.sent)), ""
