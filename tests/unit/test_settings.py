import pytest

from bot.settings import RedisSettings, Settings, SettingsError


def test_redis_url_is_split_for_endpoints(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://:s3cr%40t@cache.local:6380/4")
    env = Settings.from_env().as_env()
    assert (env["REDIS_HOST"], env["REDIS_PORT"], env["REDIS_DB"], env["REDIS_PASSWORD"]) == (
        "cache.local", "6380", "4", "s3cr@t")


def test_host_port_variables_when_no_url(monkeypatch):
    for name in ("REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_TIMEOUT_SECONDS", "REDIS_MAX_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)  # the rest of RedisSettings at its defaults
    monkeypatch.setenv("REDIS_HOST", "10.0.0.5")
    monkeypatch.setenv("REDIS_DB", "2")
    assert Settings.from_env().redis == RedisSettings("10.0.0.5", 6379, 2, "")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("REDIS_URL", "http://localhost", "REDIS_URL must start with redis://"),
        ("REDIS_URL", "redis://localhost/abc", "REDIS_URL database must be a number"),
        ("TRACKER_TTL_SECONDS", "soon", "TRACKER_TTL_SECONDS must be an integer"),
        ("TRACKER_TTL_SECONDS", "0", "TRACKER_TTL_SECONDS must be >= 1"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env()


def test_action_server_url_follows_action_port(monkeypatch):
    monkeypatch.delenv("ACTION_SERVER_URL", raising=False)
    monkeypatch.setenv("ACTION_PORT", "6055")
    assert Settings.from_env().action_server_url == "http://127.0.0.1:6055/webhook"
