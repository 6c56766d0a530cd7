"""WhatsAppSettings (channels/whatsapp/settings.py): credentials.yml keys over WHATSAPP_* variables."""
import pytest

from bot.settings import SettingsError
from channels.whatsapp.settings import WhatsAppSettings


def test_defaults_and_the_environment(monkeypatch):
    for key in ("VERIFY_TOKEN", "APP_SECRET", "ACCESS_TOKEN", "PHONE_NUMBER_ID", "API_URL", "API_VERSION",
                "FALLBACK_TEMPLATE", "TEMPLATE_LANGUAGE"):
        monkeypatch.delenv(f"WHATSAPP_{key}", raising=False)
    assert WhatsAppSettings.from_env() == WhatsAppSettings()
    monkeypatch.setenv("WHATSAPP_API_URL", "http://127.0.0.1:9999/ ")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", " 106540352242922 ")
    settings = WhatsAppSettings.from_env()
    assert settings.api_url == "http://127.0.0.1:9999"
    assert settings.phone_number_id == "106540352242922"


def test_a_credentials_key_wins_over_the_variable(monkeypatch):
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "from-env")
    monkeypatch.setenv("WHATSAPP_TEMPLATE_LANGUAGE", "en_US")
    settings = WhatsAppSettings.from_env({"app_secret": "from-credentials", "template_language": ""})
    assert settings.app_secret == "from-credentials"
    assert settings.template_language == "en_US"  # an empty key falls back to the variable


def test_a_bad_api_url_names_where_it_came_from(monkeypatch):
    monkeypatch.setenv("WHATSAPP_API_URL", "graph.facebook.com")
    with pytest.raises(SettingsError, match="WHATSAPP_API_URL"):
        WhatsAppSettings.from_env()
    with pytest.raises(SettingsError, match="credentials.yml"):
        WhatsAppSettings.from_env({"api_url": "ftp://graph"})
