"""Business hours of the desk with fixed datetimes (Sao Paulo is UTC-3, no DST)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.desk.hours import DEFAULT_HOURS, BusinessHours
from bot.desk.metrics import day_bounds
from bot.settings import SettingsError

SP = ZoneInfo("America/Sao_Paulo")
HOURS = BusinessHours.parse("mon-fri 08:00-18:00; sat 08:00-12:00", "2026-12-25, 01-01")


def sp(*args):
    return datetime(*args, tzinfo=SP)


@pytest.mark.parametrize("moment, expected", [
    (sp(2026, 11, 25, 7, 59), False),   # Wednesday before opening
    (sp(2026, 11, 25, 8, 0), True),
    (sp(2026, 11, 25, 17, 59), True),
    (sp(2026, 11, 25, 18, 0), False),   # the end is exclusive
    (sp(2026, 11, 28, 11, 30), True),   # Saturday morning
    (sp(2026, 11, 28, 12, 0), False),
    (sp(2026, 11, 29, 10, 0), False),   # Sunday
    (sp(2026, 12, 25, 10, 0), False),   # dated holiday (a Friday)
    (sp(2027, 1, 1, 10, 0), False),     # yearly holiday
    (datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc), True),   # 08:00 in Sao Paulo
    (datetime(2026, 11, 25, 10, 59, tzinfo=timezone.utc), False),  # 07:59 in Sao Paulo
    (datetime(2026, 11, 25, 8, 30), True),  # naive = Sao Paulo wall time
])
def test_is_open(moment, expected):
    assert HOURS.is_open(moment) is expected


@pytest.mark.parametrize("moment, opening, sentence", [
    (sp(2026, 11, 25, 10, 0), sp(2026, 11, 26, 8, 0), "amanha as 8h"),  # open: the next opening, never now
    (sp(2026, 11, 25, 12, 14), sp(2026, 11, 26, 8, 0), "amanha as 8h"),
    (sp(2026, 11, 28, 8, 0), sp(2026, 11, 30, 8, 0), "segunda (30/11) as 8h"),  # just opened
    (sp(2026, 11, 25, 6, 15), sp(2026, 11, 25, 8, 0), "hoje as 8h"),
    (sp(2026, 11, 25, 19, 0), sp(2026, 11, 26, 8, 0), "amanha as 8h"),
    (sp(2026, 11, 28, 13, 0), sp(2026, 11, 30, 8, 0), "segunda (30/11) as 8h"),
    (sp(2026, 12, 24, 18, 30), sp(2026, 12, 26, 8, 0), "sabado (26/12) as 8h"),  # over Christmas
])
def test_next_opening(moment, opening, sentence):
    assert HOURS.next_opening(moment) == opening
    assert HOURS.describe_next_opening(moment) == sentence


def test_describe_in_portuguese():
    assert HOURS.describe() == (
        "segunda a sexta, das 8h as 18h; sabado, das 8h as 12h (exceto feriados)")
    lunch = BusinessHours.parse("seg-sex 08:00-12:00,13:30-18:00; sáb, dom 09:00-13:00")
    assert lunch.describe() == (
        "segunda a sexta, das 8h as 12h e das 13h30 as 18h; sabado e domingo, das 9h as 13h")
    scattered = BusinessHours.parse("mon,wed,fri 09:00-17:00; sat-sun 10:00-24:00")
    assert scattered.describe() == (
        "segunda, quarta e sexta, das 9h as 17h; sabado e domingo, das 10h as 24h")
    assert scattered.is_open(sp(2026, 11, 29, 23, 59))
    assert BusinessHours.parse("").describe().startswith("sem horario")
    assert BusinessHours.parse("").next_opening(sp(2026, 11, 25, 10, 0)) is None


def test_from_env_defaults_and_overrides(monkeypatch):
    monkeypatch.delenv("DESK_HOURS", raising=False)
    monkeypatch.delenv("DESK_HOLIDAYS", raising=False)
    assert BusinessHours.from_env() == BusinessHours.parse(DEFAULT_HOURS)
    monkeypatch.setenv("DESK_HOURS", "mon-sun 00:00-24:00")
    monkeypatch.setenv("DESK_HOLIDAYS", "2026-12-25")
    always = BusinessHours.from_env()
    assert always.is_open(sp(2026, 11, 29, 3, 0)) and not always.is_open(sp(2026, 12, 25, 3, 0))


@pytest.mark.parametrize("hours, holidays, message", [
    ("mon-fri", "", "DESK_HOURS: 'mon-fri' needs days and hours"),
    ("funday 08:00-18:00", "", "DESK_HOURS: unknown day 'funday'"),
    ("mon 8-18", "", "DESK_HOURS: interval '8-18' must look like 08:00-18:00"),
    ("mon 25:00-26:00", "", "is not a time of day"),
    ("mon 18:00-08:00", "", "ends before it starts"),
    ("mon 08:00-18:00", "25/12", "DESK_HOLIDAYS: '25/12' must be YYYY-MM-DD"),
    ("mon 08:00-18:00", "2026-02-30", "DESK_HOLIDAYS: '2026-02-30'"),
])
def test_bad_settings_name_the_variable(hours, holidays, message):
    with pytest.raises(SettingsError, match=message):
        BusinessHours.parse(hours, holidays)


def test_day_bounds_follow_sao_paulo_not_utc():
    late = datetime(2026, 11, 26, 2, 30, tzinfo=timezone.utc).timestamp()  # 23:30 on the 25th
    start, end = day_bounds(late)
    assert datetime.fromtimestamp(start, SP) == sp(2026, 11, 25)
    assert end - start == timedelta(days=1).total_seconds()


def test_a_department_keeps_its_own_hours_and_the_desks_holidays():
    from datetime import datetime

    import pytest

    from bot.desk.departments import Department, checked_hours
    from bot.desk.errors import InvalidInput
    from bot.desk.hours import BusinessHours

    desk = BusinessHours.parse("mon-fri 08:00-20:00", "12-25")
    assert Department("x", "X").business_hours(desk) is desk
    own = Department("x", "X", hours=checked_hours("  sab  09:00-13:00 ")).business_hours(desk)
    assert own.is_open(datetime(2026, 12, 5, 10, 0)) and not own.is_open(datetime(2026, 12, 4, 10, 0))
    assert own.yearly_holidays == desk.yearly_holidays
    assert checked_hours("") == ""
    for bad in ("sab", "sab 13:00-09:00", None, "x" * 201):
        with pytest.raises(InvalidInput) as refused:
            checked_hours(bad)
        assert refused.value.field == "hours"
