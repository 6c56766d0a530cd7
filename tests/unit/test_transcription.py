"""Voice-note checks that need no service: the audio's length, the refusals before
any call, and what the connector says when a note cannot be heard."""
from __future__ import annotations

import asyncio

import pytest

from bot.media import inspect_file
from bot.media.files import AUDIO_TYPES
from bot.media.settings import TranscriptionSettings
from bot.media.transcription import TranscriptionFailed, Transcriber, audio_seconds
from testing.speech import silence, voice_note


def settings(**changes) -> TranscriptionSettings:
    base = dict(api_key="k" * 20, base_url="http://127.0.0.1:9/v1", model="whisper-1", language="pt",
                timeout_seconds=1.0, max_seconds=20)
    return TranscriptionSettings(**{**base, **changes})


def test_the_length_comes_from_the_file_itself():
    assert 2.9 < audio_seconds(silence(3)) < 3.2
    assert audio_seconds(b"OggS not really") is None and audio_seconds(b"") is None


def test_refused_before_any_call():
    note = inspect_file(silence(25), "", "media", AUDIO_TYPES)
    assert note.mime == "audio/ogg" and note.filename == "arquivo.ogg"
    for transcriber, outcome in ((Transcriber(settings(api_key="")), "not_configured"),
                                 (Transcriber(settings()), "too_long")):
        with pytest.raises(TranscriptionFailed) as failed:
            asyncio.run(transcriber.transcribe(note))
        assert failed.value.outcome == outcome


def test_a_service_that_does_not_answer_is_an_error_not_a_crash():
    note = inspect_file(voice_note("oi"), "", "media", AUDIO_TYPES)
    with pytest.raises(TranscriptionFailed) as failed:  # nothing listens on port 9
        asyncio.run(Transcriber(settings()).transcribe(note))
    assert failed.value.outcome in ("error", "timeout")


def test_settings_default_to_the_llms_and_can_be_overridden(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-llm")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://llm.local/v1/")
    monkeypatch.delenv("TRANSCRIPTION_API_KEY", raising=False)
    monkeypatch.delenv("TRANSCRIPTION_BASE_URL", raising=False)
    first = TranscriptionSettings.from_env()
    assert (first.api_key, first.base_url, first.model, first.language, first.max_seconds) == (
        "sk-llm", "http://llm.local/v1", "whisper-1", "pt", 120)
    monkeypatch.setenv("TRANSCRIPTION_API_KEY", "sk-audio")
    monkeypatch.setenv("TRANSCRIPTION_BASE_URL", "http://stt.local/v1")
    second = TranscriptionSettings.from_env()
    assert (second.api_key, second.base_url) == ("sk-audio", "http://stt.local/v1")
