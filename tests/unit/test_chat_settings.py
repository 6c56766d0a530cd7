"""ChatSettings: CHAT_*, WEBSOCKET_*, SOCKETIO_*, WIDGET_*, METRICS_TOKEN read in one place, errors naming the variable."""
import pytest

from bot.settings import SettingsError
from channels.common.settings import ChatSettings

STRONG = "x" * 32


def test_defaults_for_a_laptop(monkeypatch):
    for name in ("CHAT_API_KEYS", "CHAT_RATE_LIMIT_PER_MINUTE", "SOCKETIO_REDIS", "WEBSOCKET_JWT_SECRET",
                 "WIDGET_INIT_PAYLOAD", "METRICS_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = ChatSettings.from_env()
    assert settings.api.api_keys == () and settings.api.rate_limit_per_minute == 30
    assert settings.socketio.use_redis is True and settings.websocket.jwt_secret == ""
    assert settings.widget.init_payload == "/greet"
    assert settings.health.metrics_token == "" and settings.health.llm_configured is False


def test_values_are_parsed_once_per_feature(monkeypatch):
    monkeypatch.setenv("CHAT_API_KEYS", "a, b,")
    monkeypatch.setenv("CHAT_RATE_LIMIT_PER_MINUTE", "5")
    monkeypatch.setenv("SOCKETIO_REDIS", "off")
    monkeypatch.setenv("WEBSOCKET_JWT_SECRET", STRONG)
    monkeypatch.setenv("WIDGET_INIT_PAYLOAD", " ")
    settings = ChatSettings.from_env()
    assert settings.api.api_keys == ("a", "b")
    assert settings.api.rate_limit_per_minute == settings.socketio.rate_limit_per_minute == 5
    assert settings.websocket.rate_limit_per_minute == 5
    assert settings.socketio.use_redis is False and settings.websocket.jwt_secret == STRONG
    assert settings.widget.init_payload == ""


@pytest.mark.parametrize("name, value", [
    ("CHAT_RATE_LIMIT_PER_MINUTE", "many"),
    ("WEBSOCKET_IDLE_TIMEOUT_SECONDS", "0"),
    ("WEBSOCKET_MAX_CONNECTIONS", "-1"),
    ("WEBSOCKET_JWT_SECRET", "short"),
    ("SOCKETIO_JWT_SECRET", "short"),
    ("SOCKETIO_REDIS", "maybe"),
    ("WIDGET_COLOR", "red"),
    ("HEALTH_CHECK_TIMEOUT_SECONDS", "soon"),
    ("METRICS_TOKEN", "short"),
])
def test_a_bad_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        ChatSettings.from_env()
