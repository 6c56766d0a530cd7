"""``OUTREACH_*`` settings, typed and checked once; a bad value names the variable."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.settings import env_int, env_str

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class OutreachSettings:
    templates_file: Path  # OUTREACH_TEMPLATES_FILE: the approved templates (whatsapp_templates.yml)
    messages_per_second: int  # OUTREACH_MESSAGES_PER_SECOND per sending number (Meta's default: 80)
    claim_seconds: int  # OUTREACH_CLAIM_SECONDS a send in flight is reserved before another worker retries it
    send_rate_per_minute: int  # OUTREACH_SEND_RATE_PER_MINUTE desk outbound sends per user
    outage_template: str  # OUTREACH_OUTAGE_TEMPLATE
    outage_resolved_template: str  # OUTREACH_OUTAGE_RESOLVED_TEMPLATE

    @classmethod
    def from_env(cls) -> "OutreachSettings":
        templates = Path(env_str("OUTREACH_TEMPLATES_FILE", "whatsapp_templates.yml"))
        return cls(
            templates_file=templates if templates.is_absolute() else ROOT / templates,
            messages_per_second=env_int("OUTREACH_MESSAGES_PER_SECOND", 80, 1),
            claim_seconds=env_int("OUTREACH_CLAIM_SECONDS", 120, 1),
            send_rate_per_minute=env_int("OUTREACH_SEND_RATE_PER_MINUTE", 100, 0),
            outage_template=env_str("OUTREACH_OUTAGE_TEMPLATE", "aviso_instabilidade"),
            outage_resolved_template=env_str("OUTREACH_OUTAGE_RESOLVED_TEMPLATE", "aviso_normalizado"),
        )


@lru_cache(maxsize=1)
def outreach_settings() -> OutreachSettings:
    return OutreachSettings.from_env()
