"""Voice notes to text: an OpenAI-compatible ``POST /audio/transcriptions``.

The official ``openai`` SDK (already ours for the LLM) against
``TRANSCRIPTION_BASE_URL`` (default: the LLM's), model ``whisper-1``,
language ``pt``. The audio's length is read first (``mutagen``, from the
file's own headers) so a 10-minute note is refused before it costs anything.
Every outcome is counted in ``/metrics``; the text is never logged.
"""
from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass
from typing import Optional

import mutagen
import openai
from openai import AsyncOpenAI
from prometheus_client import Counter, Histogram

from bot.media.files import MediaFile
from bot.media.settings import TranscriptionSettings, transcription_settings

logger = logging.getLogger(__name__)

TRANSCRIPTIONS = Counter(
    "isp_transcriptions",
    "Voice notes sent to transcription, by outcome "
    "(ok, empty, too_long, not_configured, timeout, error).",
    ["outcome"],
)
TRANSCRIBED_AUDIO_SECONDS = Counter("isp_transcribed_audio_seconds", "Seconds of audio transcribed.")
TRANSCRIPTION_SECONDS = Histogram(
    "isp_transcription_duration_seconds", "Time one transcription took (successful ones).",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32),
)


class TranscriptionFailed(Exception):
    """No text for this audio; ``outcome`` says why (too_long, timeout...)."""

    def __init__(self, outcome: str, detail: str):
        super().__init__(f"{outcome}: {detail}")
        self.outcome = outcome


@dataclass(frozen=True)
class Transcript:
    text: str
    audio_seconds: Optional[float]  # None when the file's headers do not say


def audio_seconds(data: bytes) -> Optional[float]:
    """The audio's length from its own headers (Ogg/Opus, MP3, M4A, AAC); None if unreadable."""
    try:
        parsed = mutagen.File(io.BytesIO(data))
    except Exception:  # mutagen raises many kinds for junk; unreadable is the answer
        return None
    length = getattr(getattr(parsed, "info", None), "length", None)
    return float(length) if length else None


class Transcriber:
    def __init__(self, settings: Optional[TranscriptionSettings] = None):
        self.settings = settings or transcription_settings()
        self._sdk: Optional[AsyncOpenAI] = None

    @property
    def sdk(self) -> AsyncOpenAI:
        if self._sdk is None:
            self._sdk = AsyncOpenAI(api_key=self.settings.api_key, base_url=self.settings.base_url,
                                    timeout=self.settings.timeout_seconds, max_retries=0)
        return self._sdk

    def warm_up(self) -> None:
        """The SDK client and its audio resource, and mutagen's format readers, loaded now."""
        audio_seconds(b"OggS")
        if self.settings.enabled:
            _ = self.sdk.audio.transcriptions

    async def transcribe(self, audio: MediaFile) -> Transcript:
        """The audio's words; :class:`TranscriptionFailed` otherwise (counted)."""
        try:
            transcript = await self._transcribe(audio)
        except TranscriptionFailed as failure:
            TRANSCRIPTIONS.labels(outcome=failure.outcome).inc()
            logger.warning("transcription: %s", failure)
            raise
        TRANSCRIPTIONS.labels(outcome="ok").inc()
        return transcript

    async def _transcribe(self, audio: MediaFile) -> Transcript:
        s = self.settings
        if not s.enabled:
            raise TranscriptionFailed("not_configured", "TRANSCRIPTION_API_KEY / OPENAI_API_KEY is not set")
        seconds = audio_seconds(audio.data)
        if seconds is not None and seconds > s.max_seconds:
            raise TranscriptionFailed("too_long", f"{seconds:.0f} s of audio, at most {s.max_seconds}")
        started = time.monotonic()
        try:
            answer = await asyncio.wait_for(self.sdk.audio.transcriptions.create(
                model=s.model, language=s.language, response_format="json",
                file=(audio.filename, audio.data, audio.mime)), timeout=s.timeout_seconds)
        except asyncio.TimeoutError:
            raise TranscriptionFailed("timeout", f"no answer in {s.timeout_seconds}s") from None
        except openai.APITimeoutError:
            raise TranscriptionFailed("timeout", f"no answer in {s.timeout_seconds}s") from None
        except openai.OpenAIError as error:
            raise TranscriptionFailed("error", type(error).__name__) from None
        elapsed = time.monotonic() - started
        text = " ".join(str(getattr(answer, "text", "") or "").split())
        if not text:
            raise TranscriptionFailed("empty", "the model heard no words")
        TRANSCRIPTION_SECONDS.observe(elapsed)
        if seconds:
            TRANSCRIBED_AUDIO_SECONDS.inc(seconds)
        logger.info("transcription: %.1f s of audio in %.2f s", seconds or 0.0, elapsed)
        return Transcript(text, seconds)
