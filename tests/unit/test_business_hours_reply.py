"""What the bot answers to "qual o horario de atendimento?"."""
from datetime import datetime

from actions.hours import hours_reply
from bot.desk.hours import TIMEZONE, BusinessHours

HOURS = BusinessHours.parse("mon-fri 08:00-20:00; sat 08:00-14:00", "2026-12-25")


def test_open_now():
    reply = hours_reply(HOURS, datetime(2026, 11, 25, 10, 0, tzinfo=TIMEZONE))  # a Wednesday
    assert "segunda a sexta, das 8h as 20h" in reply and "sabado, das 8h as 14h" in reply
    assert "Agora tem atendente disponivel." in reply and "24 horas" in reply


def test_closed_says_when_people_are_back():
    reply = hours_reply(HOURS, datetime(2026, 11, 28, 15, 0, tzinfo=TIMEZONE))  # Saturday afternoon
    assert "fora do horario" in reply and "segunda" in reply and "8h" in reply


def test_round_the_clock():
    reply = hours_reply(BusinessHours.parse("mon-sun 00:00-24:00"), datetime(2026, 11, 28, 3, 0, tzinfo=TIMEZONE))
    assert "segunda a domingo, 24 horas" in reply
