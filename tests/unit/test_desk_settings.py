import pytest

from bot.desk.hours import BusinessHours
from bot.desk.settings import AuthSettings, DeskSettings
from bot.settings import SettingsError

SECRET = "s" * 32


def test_defaults(monkeypatch):
    for name in ("DESK_JWT_SECRET", "DESK_TOKEN_TTL_SECONDS", "DESK_RETENTION_DAYS", "DESK_HOURS",
                 "DESK_HOLIDAYS", "DESK_POSITION_CHECK_SECONDS", "DESK_PRESENCE_TTL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = DeskSettings.from_env()
    assert (settings.jwt_secret, settings.token_ttl_seconds, settings.retention_days,
            settings.position_check_seconds, settings.presence_ttl_seconds) == ("", 8 * 3600, 90, 15, 90)
    assert settings.hours == BusinessHours.from_env()


@pytest.mark.parametrize("name, value", [
    ("DESK_TOKEN_TTL_SECONDS", "ten"), ("DESK_TOKEN_TTL_SECONDS", "59"),
    ("DESK_LOGIN_MAX_FAILURES", "0"), ("DESK_RETENTION_DAYS", "x"),
    ("DESK_POSITION_LEADER_SECONDS", "1"), ("DESK_PRESENCE_TTL_SECONDS", "2"),
    ("DESK_HOURS", "someday"), ("DESK_HOLIDAYS", "25/12"),
])
def test_a_bad_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        DeskSettings.from_env()


def test_the_secret_is_needed_for_logins_only(monkeypatch):
    monkeypatch.delenv("DESK_JWT_SECRET", raising=False)
    settings = DeskSettings.from_env()  # the action server and the CLI need no secret
    with pytest.raises(SettingsError, match="DESK_JWT_SECRET"):
        settings.auth()
    monkeypatch.setenv("DESK_JWT_SECRET", SECRET)
    monkeypatch.setenv("DESK_LOGIN_MAX_FAILURES", "7")
    assert AuthSettings.from_env() == AuthSettings(SECRET, 8 * 3600, 7, 300)
