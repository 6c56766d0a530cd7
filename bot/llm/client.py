"""The chat model behind the official ``openai`` SDK (any OpenAI-compatible server).

One place applies the time budget: the SDK gets ``LLM_TIMEOUT_SECONDS`` per
request and one retry, and the whole call (retry included) is cut at the same
budget, so a slow model costs the customer at most ``LLM_TIMEOUT_SECONDS``.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Dict, List, Optional

import openai
from openai import AsyncOpenAI

from bot.llm.settings import LlmSettings

OnDelta = Callable[[str], Awaitable[None]]


class LlmError(Exception):
    """The model did not give an answer (``kind``: timeout or error)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


def _forget(task: "asyncio.Future") -> None:
    """Collect the outcome of an abandoned call so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()


class LlmClient:
    def __init__(self, settings: LlmSettings):
        self.settings = settings
        self._sdk = AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_seconds,
            max_retries=1,
        )

    async def complete(self, messages: List[Dict[str, str]],
                       on_delta: Optional[OnDelta] = None) -> Completion:
        """The model's answer; with ``on_delta`` it is streamed and each piece passed on."""
        started = time.monotonic()
        expired = False

        async def until_expired(delta: str) -> None:
            if not expired:  # a late piece must not follow the fallback answer
                await on_delta(delta)

        call = self._stream(messages, until_expired) if on_delta else self._once(messages)
        task = asyncio.ensure_future(call)
        # Not asyncio.wait_for: it waits for the cancelled call to finish, and the
        # SDK's HTTP stack can hold a cancellation back until its own timeout and
        # retry have run (seen: 3.5 s for a 1.5 s budget). The customer's budget
        # ends here; the call is cancelled and left to wind down on its own.
        try:
            done, _ = await asyncio.wait({task}, timeout=self.settings.timeout_seconds)
        except asyncio.CancelledError:  # the turn itself was cancelled
            task.cancel()
            raise
        if not done:
            expired = True
            task.cancel()
            task.add_done_callback(_forget)
            raise LlmError("timeout", f"no answer in {self.settings.timeout_seconds}s")
        try:
            text, usage = task.result()
        except openai.APITimeoutError as error:
            raise LlmError("timeout", str(error)) from None
        except openai.OpenAIError as error:
            raise LlmError("error", f"{type(error).__name__}: {error}") from None
        prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
        completion_tokens = getattr(usage, "completion_tokens", 0) or 0
        return Completion(text.strip(), prompt_tokens, completion_tokens,
                          time.monotonic() - started)

    def _params(self, messages):
        return dict(model=self.settings.model, messages=messages,
                    max_tokens=self.settings.max_tokens, temperature=0.2)

    async def _once(self, messages):
        response = await self._sdk.chat.completions.create(**self._params(messages))
        if not response.choices:
            raise LlmError("error", "the response has no choices")
        return response.choices[0].message.content or "", response.usage

    async def _stream(self, messages, on_delta: OnDelta):
        stream = await self._sdk.chat.completions.create(
            **self._params(messages), stream=True, stream_options={"include_usage": True}
        )
        parts, usage = [], None
        async for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                delta = choice.delta.content if choice.delta else None
                if delta:
                    parts.append(delta)
                    await on_delta(delta)
        return "".join(parts), usage
