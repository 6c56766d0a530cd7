"""When the bot keeps failing the customer (actions/services.py, actions/fallback.py)."""
import pytest

from actions.services import same_request_in_a_row
from bot.desk.settings import DeskSettings
from bot.settings import SettingsError


def user(intent, text="texto"):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def test_the_same_typed_request_is_counted_until_something_else_comes():
    events = [user("greet"), user("request_invoice"), {"event": "bot", "text": "x"},
              user("request_invoice"), user("request_invoice", "/request_invoice"), user("request_invoice")]
    assert same_request_in_a_row(events) == 3  # the button press is a choice, not counted
    assert same_request_in_a_row(events + [user("thank")]) == 1
    assert same_request_in_a_row([user("request_invoice"), {"event": "session_started"},
                                  user("request_invoice")]) == 1  # a new session starts over
    assert same_request_in_a_row([]) == 0


def test_the_mode_is_checked_when_read(monkeypatch):
    monkeypatch.setenv("DESK_AUTO_HANDOFF", "sempre")
    with pytest.raises(SettingsError, match="DESK_AUTO_HANDOFF"):
        DeskSettings.from_env()
    monkeypatch.setenv("DESK_AUTO_HANDOFF", "Handoff")
    assert DeskSettings.from_env().auto_handoff == "handoff"
