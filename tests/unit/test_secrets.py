"""bot.settings: secrets of at least 32 characters, and the Rasa start-up check."""
import pytest

from bot.settings import SettingsError, check_rasa_server, env_secret

STRONG = "s" * 32


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("ACTION_SERVER_TOKEN", "DESK_JWT_SECRET", "SOCKETIO_JWT_SECRET", "WEBSOCKET_JWT_SECRET",
                 "METRICS_TOKEN", "CHAT_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", STRONG)


def test_env_secret(monkeypatch):
    monkeypatch.delenv("ACTION_SERVER_TOKEN")
    assert env_secret("ACTION_SERVER_TOKEN") == ""
    with pytest.raises(SettingsError, match="ACTION_SERVER_TOKEN is not set"):
        env_secret("ACTION_SERVER_TOKEN", required=True)
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "s" * 31)
    with pytest.raises(SettingsError, match=r"ACTION_SERVER_TOKEN is too weak \(31 characters\)"):
        env_secret("ACTION_SERVER_TOKEN")
    monkeypatch.setenv("ACTION_SERVER_TOKEN", STRONG)
    assert env_secret("ACTION_SERVER_TOKEN", required=True) == STRONG


@pytest.mark.parametrize("argv", [
    ["rasa", "run", "--enable-api"],
    ["rasa", "run", "--enable-api", "--auth-token", ""],
    ["rasa", "run", "--enable-api", "--port", "5005", "--cors", "*"],
])
def test_an_open_api_is_refused(argv):
    with pytest.raises(SettingsError, match="RASA_API_TOKEN"):
        check_rasa_server(argv)


@pytest.mark.parametrize("argv", [
    ["rasa", "run", "--enable-api", "--auth-token", STRONG],
    ["rasa", "run", "--enable-api", f"--auth-token={STRONG}"],
    ["rasa", "run", "--enable-api", "-t", STRONG],
    ["rasa", "run", "--enable-api", "--jwt-secret", STRONG],
    ["rasa", "run"],
    ["rasa", "shell"],
])
def test_a_protected_or_closed_api_starts(argv):
    check_rasa_server(argv)


@pytest.mark.parametrize("argv", [["rasa", "run", "--enable-api", "-t", "short"],
                                  ["rasa", "run", "--enable-api", "--jwt-secret=short"]])
def test_a_weak_api_credential_is_refused(argv):
    with pytest.raises(SettingsError, match="too weak"):
        check_rasa_server(argv)


def test_chat_api_keys_warning_only_on_a_public_bind(monkeypatch):
    assert "CHAT_API_KEYS" in check_rasa_server(["rasa", "run"])[0]
    assert check_rasa_server(["rasa", "run", "-i", "127.0.0.1"]) == []
    monkeypatch.setenv("CHAT_API_KEYS", "key")
    assert check_rasa_server(["rasa", "run"]) == []
