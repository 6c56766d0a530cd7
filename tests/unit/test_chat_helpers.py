"""Pure helpers of the REST and WebSocket connectors."""
import pytest

from bot import chat_input
from bot.chat_input import InvalidInput, MalformedJson
from bot.metrics import known_intent
from bot.rate_limit import retry_after, window_of
from channels.health import action_health_url
from channels.output import api_message


def test_chat_request_accepts_the_contract():
    request = chat_input.chat_request({"session_id": "abc-1:2.x_y", "message": "  oi  ", "metadata": {"a": 1}})
    assert (request.session_id, request.message, request.metadata) == ("abc-1:2.x_y", "oi", {"a": 1})


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "session_id"),
        ({"session_id": None, "message": "oi"}, "session_id"),
        ({"session_id": "a/b", "message": "oi"}, "session_id"),
        ({"session_id": "a", "message": ""}, "message"),
        ({"session_id": "a", "message": "x" * 4097}, "message"),
        ({"session_id": "a", "message": "oi", "metadata": "x"}, "metadata"),
        ({"session_id": "a", "message": "oi", "other": 1}, "other"),
        ("text", "body"),
    ],
)
def test_chat_request_names_the_bad_field(body, field):
    with pytest.raises(InvalidInput) as error:
        chat_input.chat_request(body)
    assert error.value.field == field
    assert error.value.detail.startswith(f"{field}: ")


def test_a_message_of_exactly_4096_characters_is_fine():
    assert len(chat_input.message_text("a" * 4096)) == 4096


def test_malformed_json_is_its_own_error():
    with pytest.raises(MalformedJson):
        chat_input.parse_json(b'{"a": ')
    with pytest.raises(MalformedJson):
        chat_input.parse_json(b"\xff\xfe")


def test_rate_limit_windows_and_retry_after():
    assert window_of(119.9) == 1 and window_of(120.0) == 2
    assert retry_after(120.0) == 60
    assert retry_after(179.2) == 1
    assert retry_after(179.99) == 1


def test_api_message_keeps_one_bot_utterance_together():
    rasa_message = {
        "recipient_id": "api:x", "text": "Escolhe:\n\numa opcao", "buttons": [{"title": "A", "payload": "/a"}],
        "image": None, "custom": None, "template_name": "utter_x", "utter_action": "utter_x",
    }
    assert api_message(rasa_message) == {
        "text": "Escolhe:\n\numa opcao", "buttons": [{"title": "A", "payload": "/a"}],
    }
    assert api_message({"quick_replies": [{"title": "B", "payload": "/b"}], "text": "?"})["buttons"]
    assert api_message({"custom": {"pix": "000201"}}) == {"custom": {"pix": "000201"}}
    assert api_message({"recipient_id": "x"}) == {}


def test_intent_labels_stay_within_the_domain():
    assert known_intent("greet", ["greet"]) == "greet"
    assert known_intent("made_up_by_a_customer", ["greet"]) == "unknown"
    assert known_intent(None, ["greet"]) == "unknown"


def test_action_server_health_url():
    assert action_health_url("http://127.0.0.1:5055/webhook") == "http://127.0.0.1:5055/health"
    assert action_health_url("http://actions:5055/webhook/") == "http://actions:5055/health"
