"""Real pt-BR voice notes for tests and benches: espeak-ng speaks, opusenc makes
WhatsApp's ``audio/ogg; codecs=opus`` (both from Debian; ``.ci/run`` installs them)."""
from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path


def voice_note(text: str) -> bytes:
    """``text`` spoken in Brazilian Portuguese, as an Ogg/Opus voice note."""
    with tempfile.TemporaryDirectory() as folder:
        wav, ogg = Path(folder) / "fala.wav", Path(folder) / "fala.ogg"
        subprocess.run(["espeak-ng", "-v", "pt-br", "-s", "150", "-w", str(wav), text], check=True)
        return _opus(wav, ogg)


def silence(seconds: float) -> bytes:
    """A voice note of ``seconds`` of silence (for length limits)."""
    with tempfile.TemporaryDirectory() as folder:
        wav, ogg = Path(folder) / "silencio.wav", Path(folder) / "silencio.ogg"
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes(b"\0\0" * int(16000 * seconds))
        return _opus(wav, ogg)


def _opus(wav: Path, ogg: Path) -> bytes:
    subprocess.run(["opusenc", "--quiet", "--bitrate", "24", str(wav), str(ogg)], check=True)
    return ogg.read_bytes()
