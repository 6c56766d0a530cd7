"""What a customer who asks for a person hears when nobody can take the
conversation now (actions/handoff.py ``unavailable_text``)."""
from datetime import datetime
from zoneinfo import ZoneInfo

from actions.handoff import unavailable_text
from bot.desk.hours import BusinessHours

SP = ZoneInfo("America/Sao_Paulo")
HOURS = BusinessHours.parse("mon-fri 08:00-18:00; sat 08:00-12:00")


def test_open_with_nobody_online_says_so_and_gives_no_reopening_time():
    said = unavailable_text(HOURS, datetime(2026, 11, 25, 12, 14, tzinfo=SP), "20261125000001")
    assert "atendentes estao todos offline agora" in said
    assert "Voltamos" not in said and "12h14" not in said
    assert "protocolo 20261125000001" in said and "continua na fila" in said


def test_closed_says_closed_and_when_it_opens():
    said = unavailable_text(HOURS, datetime(2026, 11, 25, 19, 0, tzinfo=SP), "20261125000002")
    assert "atendimento humano esta fechado agora" in said
    assert "Voltamos amanha as 8h." in said and "protocolo 20261125000002" in said
