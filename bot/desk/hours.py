"""Business hours of the human desk, in America/Sao_Paulo, and how to say them.

``DESK_HOURS`` is a week schedule: groups separated by ``;``, each a set of
days and one or more intervals, e.g. ``mon-fri 08:00-18:00; sat 08:00-12:00``
or ``seg-sex 08:00-12:00,13:00-18:00``. Days are English (mon..sun) or
Portuguese (seg, ter, qua, qui, sex, sab, dom) abbreviations, as ranges
(``mon-fri``) or lists (``mon,wed``); ``24:00`` may end an interval; an
interval cannot cross midnight (write ``fri 22:00-24:00; sat 00:00-02:00``).
``DESK_HOLIDAYS`` lists closed dates: ``2026-12-25`` (that day) or ``12-25``
(every year), comma-separated.

Pure functions of the settings and the time given: no clock, no Redis.
Naive datetimes are taken as Sao Paulo wall time.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Dict, FrozenSet, List, Optional, Tuple
from zoneinfo import ZoneInfo

from bot.settings import SettingsError, env_str

TIMEZONE = ZoneInfo("America/Sao_Paulo")
DEFAULT_HOURS = "mon-fri 08:00-20:00; sat 08:00-14:00"  # as data/knowledge/atendimento.md says

_DAY_TOKENS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "seg": 0, "ter": 1, "qua": 2, "qui": 3, "sex": 4, "sab": 5, "dom": 6,
}
DAY_NAMES = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

Interval = Tuple[int, int]  # minutes since midnight, [start, end)


def _plain(text: str) -> str:
    """Lowercase without accents, so ``Sáb`` reads as ``sab``."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _days(spec: str) -> List[int]:
    days: List[int] = []
    for part in spec.split(","):
        ends = [token.strip() for token in part.split("-")]
        if len(ends) > 2 or any(token not in _DAY_TOKENS for token in ends):
            raise SettingsError(f"DESK_HOURS: unknown day {part!r} (use mon..sun or seg..dom)")
        first, last = _DAY_TOKENS[ends[0]], _DAY_TOKENS[ends[-1]]
        span = (last - first) % 7  # "sat-mon" wraps around the week
        days += [(first + offset) % 7 for offset in range(span + 1)]
    return days


def _interval(spec: str) -> Interval:
    match = _INTERVAL.match(spec.strip())
    if not match:
        raise SettingsError(f"DESK_HOURS: interval {spec!r} must look like 08:00-18:00")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or start_m > 59 or end_m > 59 or end > 24 * 60:
        raise SettingsError(f"DESK_HOURS: {spec!r} is not a time of day")
    if start >= end:
        raise SettingsError(f"DESK_HOURS: {spec!r} ends before it starts (split at 24:00)")
    return start, end


def _clock(minutes: int) -> str:
    """``8h``, ``8h30``, in the way a Brazilian customer writes hours."""
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest:02d}" if rest else f"{hours}h"


def _join(items: List[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " e " + items[-1]


@dataclass(frozen=True)
class BusinessHours:
    schedule: Dict[int, Tuple[Interval, ...]]  # weekday (0 = Monday) -> intervals
    holidays: FrozenSet[date] = frozenset()
    yearly_holidays: FrozenSet[Tuple[int, int]] = frozenset()  # (month, day)

    @classmethod
    def parse(cls, hours: str, holidays: str = "") -> "BusinessHours":
        schedule: Dict[int, List[Interval]] = {}
        for group in filter(None, (part.strip() for part in _plain(hours).split(";"))):
            match = re.fullmatch(r"([a-z][a-z\s,-]*?)\s+(\d.*)", group)
            if not match:
                raise SettingsError(f"DESK_HOURS: {group!r} needs days and hours, "
                                    "e.g. 'mon-fri 08:00-18:00'")
            days, intervals = (re.sub(r"\s", "", part) for part in match.groups())
            parsed = [_interval(spec) for spec in intervals.split(",")]
            for day in _days(days):
                schedule.setdefault(day, []).extend(parsed)
        dated, yearly = set(), set()
        for item in filter(None, (part.strip() for part in holidays.split(","))):
            try:
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", item):
                    dated.add(date.fromisoformat(item))
                elif re.fullmatch(r"\d{2}-\d{2}", item):
                    month, day = map(int, item.split("-"))
                    date(2024, month, day)  # a leap year accepts 02-29
                    yearly.add((month, day))
                else:
                    raise ValueError(item)
            except ValueError:
                raise SettingsError(
                    f"DESK_HOLIDAYS: {item!r} must be YYYY-MM-DD or MM-DD (every year)"
                ) from None
        return cls({day: tuple(sorted(spans)) for day, spans in schedule.items()},
                   frozenset(dated), frozenset(yearly))

    @classmethod
    def from_env(cls) -> "BusinessHours":
        """``DESK_HOURS`` (default :data:`DEFAULT_HOURS`) and ``DESK_HOLIDAYS``
        (also part of :class:`bot.desk.settings.DeskSettings`)."""
        return cls.parse(env_str("DESK_HOURS", DEFAULT_HOURS), env_str("DESK_HOLIDAYS"))

    @staticmethod
    def local(now: datetime) -> datetime:
        return now.replace(tzinfo=TIMEZONE) if now.tzinfo is None else now.astimezone(TIMEZONE)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly_holidays

    def _intervals(self, day: date) -> Tuple[Interval, ...]:
        return () if self.is_holiday(day) else self.schedule.get(day.weekday(), ())

    def is_open(self, now: datetime) -> bool:
        now = self.local(now)
        minute = now.hour * 60 + now.minute
        return any(start <= minute < end for start, end in self._intervals(now.date()))

    def next_opening(self, now: datetime) -> Optional[datetime]:
        """The next start of an interval after ``now``; None if the desk never opens.

        Never ``now``: open but with nobody online, "voltamos hoje as 12h14" at
        12:14 was no answer (the handoff says nobody is online instead).
        """
        now = self.local(now)
        for offset in range(0, 400):  # a year of holidays cannot hide every open day
            day = now.date() + timedelta(days=offset)
            for start, _ in self._intervals(day):
                opening = datetime.combine(day, time(start // 60, start % 60), TIMEZONE)
                if opening > now:
                    return opening
        return None

    def describe(self) -> str:
        """The schedule in pt-BR, e.g. ``segunda a sexta, das 8h as 18h; sabado, das 8h as 12h``."""
        groups: List[Tuple[Tuple[Interval, ...], List[int]]] = []
        for day in range(7):
            spans = self.schedule.get(day)
            if not spans:
                continue
            for group_spans, days in groups:
                if group_spans == spans:
                    days.append(day)
                    break
            else:
                groups.append((spans, [day]))
        if not groups:
            return "sem horario de atendimento humano configurado"
        parts = []
        for spans, days in groups:
            hours = _join(["24 horas" if (start, end) == (0, 24 * 60) else f"das {_clock(start)} as {_clock(end)}"
                           for start, end in spans])
            parts.append(f"{self._describe_days(days)}, {hours}")
        text = "; ".join(parts)
        if self.holidays or self.yearly_holidays:
            text += " (exceto feriados)"
        return text

    @staticmethod
    def _describe_days(days: List[int]) -> str:
        runs: List[List[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        names = []
        for run in runs:
            if len(run) >= 3:
                names.append(f"{DAY_NAMES[run[0]]} a {DAY_NAMES[run[-1]]}")
            else:
                names += [DAY_NAMES[day] for day in run]
        return _join(names)

    def describe_next_opening(self, now: datetime) -> Optional[str]:
        """``hoje as 13h``, ``amanha as 8h`` or ``segunda (28/12) as 8h``; None if never."""
        now = self.local(now)
        opening = self.next_opening(now)
        if opening is None:
            return None
        at = _clock(opening.hour * 60 + opening.minute)
        days = (opening.date() - now.date()).days
        if days == 0:
            return f"hoje as {at}"
        if days == 1:
            return f"amanha as {at}"
        return f"{DAY_NAMES[opening.weekday()]} ({opening:%d/%m}) as {at}"
