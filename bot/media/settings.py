"""The media settings (``MEDIA_*``), read once per process."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict

from bot.settings import SECRET_MIN_CHARS, SettingsError, env_float, env_int, env_list, env_secret, env_str


FILE_KINDS = ("image", "document", "audio", "video", "sticker")  # what bot.media.files calls a file's kind


@dataclass(frozen=True)
class MediaSettings:
    max_image_bytes: int  # MEDIA_MAX_IMAGE_BYTES: Meta's own limit for images is 5 MB
    max_file_bytes: int  # MEDIA_MAX_FILE_BYTES: documents, audio, video (Meta: audio/video 16 MB)
    ttl_seconds: int  # MEDIA_TTL_SECONDS a file is kept (the transcript's previews live as long)
    link_ttl_seconds: int  # MEDIA_LINK_TTL_SECONDS a link given to a customer works
    public_url: str  # MEDIA_PUBLIC_URL: base of links for customers (https://bot.example.com); "" = relative
    secret: str  # MEDIA_URL_SECRET, else derived from DESK_JWT_SECRET; "" = no links
    url_timeout_seconds: float  # MEDIA_URL_TIMEOUT_SECONDS to fetch a chat client's attachment URL
    url_test_hosts: tuple  # MEDIA_URL_TEST_HOSTS: host:port fetched over http on any address (tests only)

    @classmethod
    def from_env(cls) -> "MediaSettings":
        secret = env_secret("MEDIA_URL_SECRET")
        if not secret:
            desk_secret = env_str("DESK_JWT_SECRET")
            if len(desk_secret) >= SECRET_MIN_CHARS:  # one secret less to manage; a separate key
                secret = hmac.new(desk_secret.encode(), b"media-links", hashlib.sha256).hexdigest()
        return cls(
            max_image_bytes=env_int("MEDIA_MAX_IMAGE_BYTES", 5 * 1024 * 1024, 1024),
            max_file_bytes=env_int("MEDIA_MAX_FILE_BYTES", 16 * 1024 * 1024, 1024),
            ttl_seconds=env_int("MEDIA_TTL_SECONDS", 7 * 24 * 3600, 60),
            link_ttl_seconds=env_int("MEDIA_LINK_TTL_SECONDS", 24 * 3600, 60),
            public_url=env_str("MEDIA_PUBLIC_URL").rstrip("/"),
            secret=secret,
            url_timeout_seconds=env_float("MEDIA_URL_TIMEOUT_SECONDS", 10.0, 0.5),
            url_test_hosts=env_list("MEDIA_URL_TEST_HOSTS"),
        )

    def require_secret(self) -> str:
        if not self.secret:
            raise SettingsError("MEDIA_URL_SECRET (or DESK_JWT_SECRET) must be set to sign media links")
        return self.secret

    def max_bytes(self, kind: str) -> int:
        return self.max_image_bytes if kind == "image" else self.max_file_bytes

    def limits(self) -> Dict[str, int]:
        """Each kind's size limit, as ``bot.media.files.inspect_file`` takes them."""
        return {kind: self.max_bytes(kind) for kind in FILE_KINDS}


@lru_cache(maxsize=1)
def media_settings() -> MediaSettings:
    return MediaSettings.from_env()


@dataclass(frozen=True)
class TranscriptionSettings:
    """Voice notes to text through an OpenAI-compatible ``/audio/transcriptions``."""

    api_key: str  # TRANSCRIPTION_API_KEY, else OPENAI_API_KEY; "" = voice notes not transcribed
    base_url: str  # TRANSCRIPTION_BASE_URL, else OPENAI_BASE_URL
    model: str  # TRANSCRIPTION_MODEL
    language: str  # TRANSCRIPTION_LANGUAGE (ISO-639-1)
    timeout_seconds: float  # TRANSCRIPTION_TIMEOUT_SECONDS for one transcription
    max_seconds: int  # TRANSCRIPTION_MAX_SECONDS of audio (longer: the customer is asked to write)

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    @classmethod
    def from_env(cls) -> "TranscriptionSettings":
        return cls(
            api_key=env_str("TRANSCRIPTION_API_KEY") or env_str("OPENAI_API_KEY"),
            base_url=(env_str("TRANSCRIPTION_BASE_URL") or env_str("OPENAI_BASE_URL", "https://api.openai.com/v1")
                      ).rstrip("/"),
            model=env_str("TRANSCRIPTION_MODEL", "whisper-1"),
            language=env_str("TRANSCRIPTION_LANGUAGE", "pt"),
            timeout_seconds=env_float("TRANSCRIPTION_TIMEOUT_SECONDS", 20.0, 0.5),
            max_seconds=env_int("TRANSCRIPTION_MAX_SECONDS", 120, 1),
        )


@lru_cache(maxsize=1)
def transcription_settings() -> TranscriptionSettings:
    return TranscriptionSettings.from_env()


@dataclass(frozen=True)
class VisionSettings:
    """Photos and PDFs read by an OpenAI-compatible vision model (chat completions)."""

    api_key: str  # VISION_API_KEY, else OPENAI_API_KEY; "" = images not read by a model
    base_url: str  # VISION_BASE_URL, else OPENAI_BASE_URL
    model: str  # VISION_MODEL
    timeout_seconds: float  # VISION_TIMEOUT_SECONDS for one reading

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    @classmethod
    def from_env(cls) -> "VisionSettings":
        return cls(
            api_key=env_str("VISION_API_KEY") or env_str("OPENAI_API_KEY"),
            base_url=(env_str("VISION_BASE_URL") or env_str("OPENAI_BASE_URL", "https://api.openai.com/v1")
                      ).rstrip("/"),
            model=env_str("VISION_MODEL", "gpt-4o-mini"),
            timeout_seconds=env_float("VISION_TIMEOUT_SECONDS", 20.0, 0.5),
        )


@lru_cache(maxsize=1)
def vision_settings() -> VisionSettings:
    return VisionSettings.from_env()
