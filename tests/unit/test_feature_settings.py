"""Settings of the LLM, ISP and action-server features: typed, errors name the variable."""
import pytest

from bot.isp.settings import IspSettings, IxcSettings
from bot.llm.settings import LlmSettings
from bot.settings import SettingsError
from rasa_sdk_plugins.action_server_guard import GuardSettings

STRONG = "t" * 32


@pytest.mark.parametrize("name, value", [
    ("LLM_STREAM", "maybe"), ("LLM_TIMEOUT_SECONDS", "soon"), ("LLM_MAX_TOKENS", "1"),
    ("KNOWLEDGE_RELOAD_SECONDS", "-1"),
])
def test_llm_errors_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        LlmSettings.from_env()


def test_llm_defaults_and_knowledge(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_STREAM", "KNOWLEDGE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KNOWLEDGE_RELOAD_SECONDS", "0.5")
    settings = LlmSettings.from_env()
    assert not settings.enabled and settings.stream
    assert settings.base_url == "https://api.openai.com/v1"
    assert (settings.knowledge_dir, settings.knowledge_reload_seconds) == ("", 0.5)


@pytest.mark.parametrize("name, value", [
    ("ISP_BACKEND", "../etc"), ("ISP_BACKEND", "caching"), ("ISP_CACHE_SECONDS", "ten"),
])
def test_isp_errors_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        IspSettings.from_env()


def test_isp_backend_name_is_normalised(monkeypatch):
    monkeypatch.setenv("ISP_BACKEND", " IXC ")
    monkeypatch.setenv("ISP_CACHE_SECONDS", "0")
    settings = IspSettings.from_env()
    assert (settings.backend, settings.is_demo, settings.cache_seconds) == ("ixc", False, 0)


def test_ixc_names_every_missing_variable(monkeypatch):
    for name in ("IXC_URL", "IXC_USER_ID", "IXC_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IXC_URL", "http://ixc.local")
    with pytest.raises(SettingsError, match="IXC_USER_ID, IXC_TOKEN"):
        IxcSettings.from_env()
    monkeypatch.setenv("IXC_USER_ID", "7")
    monkeypatch.setenv("IXC_TOKEN", "secret")
    monkeypatch.setenv("IXC_TIMEOUT_SECONDS", "0")
    with pytest.raises(SettingsError, match="IXC_TIMEOUT_SECONDS"):
        IxcSettings.from_env()


def test_action_server_guard_host(monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_TOKEN", STRONG)
    monkeypatch.delenv("ACTION_SERVER_HOST", raising=False)
    monkeypatch.delenv("SANIC_HOST", raising=False)
    assert GuardSettings.from_env() == GuardSettings(STRONG, "127.0.0.1")
    monkeypatch.setenv("SANIC_HOST", "0.0.0.0")
    assert GuardSettings.from_env().host == "0.0.0.0"
    monkeypatch.setenv("ACTION_SERVER_HOST", "10.0.0.2")
    assert GuardSettings.from_env().host == "10.0.0.2"
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "short")
    with pytest.raises(SettingsError, match="ACTION_SERVER_TOKEN"):
        GuardSettings.from_env()
