"""Pure parts of the socket.io connector and its demo page."""
import json
import re

import pytest

from bot.settings import SettingsError
from channels.common.settings import WidgetSettings
from channels.socketio.input import BadRequest, SocketIOInput, _token
from channels.socketio.outbound import room_of
from channels.socketio.widget import render_page


def test_room_is_the_sender_id_whatever_the_desk_passes():
    assert room_of("abc") == "web:abc"
    assert room_of("web:abc") == "web:abc"


def test_token_from_auth_query_or_bearer_header():
    assert _token({"token": "a"}, {"QUERY_STRING": "token=b"}) == "a"
    assert _token(None, {"QUERY_STRING": "EIO=4&token=b&transport=websocket"}) == "b"
    assert _token(None, {"QUERY_STRING": "", "HTTP_AUTHORIZATION": "Bearer c"}) == "c"
    assert _token(None, {"QUERY_STRING": "EIO=4"}) is None


def test_user_uttered_frames_are_checked_field_by_field():
    channel = SocketIOInput()
    assert channel._parse_message({"message": "oi", "session_id": "s", "customData": '{"a": 1}'}) == (
        "oi", "s", {"a": 1}, None)
    assert channel._parse_message({"message": "oi"}) == ("oi", None, {}, None)
    text, _, _, attachment = channel._parse_message({"attachment": {"data": "aGVsbG8=", "filename": "a.png"}})
    assert text == "" and attachment.data == b"hello" and attachment.filename == "a.png"
    for frame, field in [("oi", "user_uttered"), ({"message": " "}, "message"),
                         ({"message": "x" * 4097}, "message"),
                         ({"message": "oi", "customData": [1]}, "customData"),
                         ({"message": "oi", "customData": {"media": {}}}, "customData.media"),
                         ({"attachment": {"url": "https://10.0.0.1/a.png"}}, "attachment.url"),
                         ({"attachment": {"data": "%%"}}, "attachment.data"),
                         ({"attachment": []}, "attachment")]:
        with pytest.raises(BadRequest) as error:
            channel._parse_message(frame)
        assert error.value.field == field


def test_widget_settings_from_env(monkeypatch):
    monkeypatch.setenv("WIDGET_PROVIDER", "Fibra Sul")
    monkeypatch.setenv("WIDGET_COLOR", "#abc")
    monkeypatch.delenv("WIDGET_SUBTITLE", raising=False)
    settings = WidgetSettings.from_env()
    assert (settings.provider, settings.subtitle, settings.color) == ("Fibra Sul", "Fibra Sul", "#abc")
    monkeypatch.setenv("WIDGET_COLOR", "red; background: url(x)")
    with pytest.raises(SettingsError, match="WIDGET_COLOR"):
        WidgetSettings.from_env()


def test_page_escapes_the_provider_name_and_embeds_the_config_as_json():
    settings = WidgetSettings(provider='<script>alert("x")</script>', title="Ajuda & Suporte",
                              subtitle="</script><b>", color="#123456", init_payload="/greet")
    page = render_page(settings, "/widget/webchat.js", "/socket.io", "typing")
    assert "<script>alert" not in page and "</script><b>" not in page
    assert "Ajuda &amp; Suporte" in page
    raw = re.search(r'<script id="widget-config" type="application/json">(.*?)</script>', page).group(1)
    config = json.loads(raw)
    assert config["subtitle"] == "</script><b>"
    assert config["socketPath"] == "/socket.io/" and config["initPayload"] == "/greet"
    assert '<script src="/widget/webchat.js"></script>' in page
