"""``OUTREACH_*`` settings, typed and checked once; a bad value names the variable."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.settings import SettingsError, env_int, env_str

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock(name: str, text: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 24 or int(match[2]) > 59 or (int(match[1]) == 24 and int(match[2])):
        raise SettingsError(f"{name}={text!r}: times are HH:MM")
    hour, minute = int(match[1]), int(match[2])
    return time.max if hour == 24 else time(hour, minute)


def hours_range(name: str, text: str) -> Tuple[time, time]:
    """``08:00-20:00`` -> (08:00, 20:00); ``00:00-24:00`` is the whole day."""
    start, _, end = text.partition("-")
    first, last = clock(name, start), clock(name, end or "x")
    if last <= first:
        raise SettingsError(f"{name}={text!r}: the end must come after the start")
    return first, last


def weekdays(name: str, text: str) -> Tuple[int, ...]:
    """``mon-sat`` or ``mon,wed,fri`` -> Monday=0 ... Sunday=6."""
    days = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise SettingsError(f"{name}={text!r}: days are {', '.join(WEEKDAYS)}, as ranges (mon-sat) or lists")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else list(range(a, 7)) + list(range(0, b + 1)))
    return tuple(sorted(days))


def offsets(name: str, text: str) -> Tuple[int, ...]:
    try:
        values = tuple(sorted({int(item) for item in text.split(",") if item.strip()}))
    except ValueError:
        raise SettingsError(f"{name}={text!r}: whole days relative to the due date, e.g. -3,0,3,7") from None
    if not values or any(abs(v) > 60 for v in values):
        raise SettingsError(f"{name}={text!r}: between 1 and a few offsets of at most 60 days")
    return values

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class OutreachSettings:
    templates_file: Path  # OUTREACH_TEMPLATES_FILE: the approved templates (whatsapp_templates.yml)
    messages_per_second: int  # OUTREACH_MESSAGES_PER_SECOND per sending number (Meta's default: 80)
    claim_seconds: int  # OUTREACH_CLAIM_SECONDS a send in flight is reserved before another worker retries it
    send_rate_per_minute: int  # OUTREACH_SEND_RATE_PER_MINUTE desk outbound sends per user
    outage_template: str  # OUTREACH_OUTAGE_TEMPLATE
    outage_resolved_template: str  # OUTREACH_OUTAGE_RESOLVED_TEMPLATE
    reminder_template: str  # REMINDER_TEMPLATE
    csat_template: str  # OUTREACH_CSAT_TEMPLATE: the desk's satisfaction question once the window closed
    reminder_offsets: Tuple[int, ...]  # REMINDER_OFFSETS_DAYS: -3 = 3 days before the due date, 7 = a week late
    reminder_time: time  # REMINDER_TIME the daily run starts (REMINDER_TIMEZONE)
    reminder_weekdays: Tuple[int, ...]  # REMINDER_WEEKDAYS the daily run happens
    timezone: ZoneInfo  # REMINDER_TIMEZONE of the schedule and the quiet hours
    quiet_hours: Tuple[time, time]  # OUTREACH_SEND_HOURS: campaigns send only inside these hours
    daily_cap: int  # OUTREACH_DAILY_CAP_PER_CUSTOMER reminders a customer gets in one day

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
            reminder_template=env_str("REMINDER_TEMPLATE", "lembrete_fatura"),
            csat_template=env_str("OUTREACH_CSAT_TEMPLATE", "pesquisa_satisfacao"),
            reminder_offsets=offsets("REMINDER_OFFSETS_DAYS", env_str("REMINDER_OFFSETS_DAYS", "-3,0,3,7")),
            reminder_time=clock("REMINDER_TIME", env_str("REMINDER_TIME", "09:00")),
            reminder_weekdays=weekdays("REMINDER_WEEKDAYS", env_str("REMINDER_WEEKDAYS", "mon-sat")),
            timezone=zone(env_str("REMINDER_TIMEZONE", "America/Sao_Paulo")),
            quiet_hours=hours_range("OUTREACH_SEND_HOURS", env_str("OUTREACH_SEND_HOURS", "08:00-20:00")),
            daily_cap=env_int("OUTREACH_DAILY_CAP_PER_CUSTOMER", 1, 1),
        )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"REMINDER_TIMEZONE={name!r}: not an IANA time zone (America/Sao_Paulo)") from None


@lru_cache(maxsize=1)
def outreach_settings() -> OutreachSettings:
    return OutreachSettings.from_env()
