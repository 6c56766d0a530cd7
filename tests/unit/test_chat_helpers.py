"""Pure helpers of the REST and WebSocket connectors."""
import pytest

from bot import chat_input
from bot.chat_input import InvalidInput, MalformedJson
from bot.metrics import known_intent
from bot.rate_limit import retry_after, window_of
from channels.common.health import action_server_url
from channels.common.output import api_message


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


def test_json_nested_20000_deep_is_malformed_not_a_recursion_error():
    for raw in ("[" * 20_000 + "]" * 20_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        with pytest.raises(MalformedJson, match="body: nested deeper than 32 levels"):
            chat_input.parse_json(raw)


def test_json_depth_is_bounded_even_below_the_decoder_limit():
    chat_input.parse_json("[" * 32 + "]" * 32)
    with pytest.raises(MalformedJson, match="frame: nested deeper than 32"):
        chat_input.parse_json("[" * 33 + "]" * 33, field="frame")
    deep: list = []
    for _ in range(40):  # metadata that did not come through parse_json (socket.io)
        deep = [deep]
    with pytest.raises(InvalidInput, match="metadata: nested deeper"):
        chat_input.metadata({"b": deep})


def test_json_over_the_size_limit_is_too_large():
    with pytest.raises(chat_input.TooLarge, match="body: larger than 65536 bytes"):
        chat_input.parse_json(b'"' + b"x" * 65_536 + b'"')


def test_lone_surrogates_are_replaced_everywhere_and_pairs_kept():
    body = chat_input.parse_json('{"message": "oi \\ud800", "metadata": {"k\\udfff": ["\\ud83d\\ude00"]}}')
    assert body == {"message": "oi \ufffd", "metadata": {"k\ufffd": ["\U0001F600"]}}
    body["message"].encode("utf-8")  # what the CRF extractor and Redis do
    assert chat_input.message_text("a\ud800b") == "a\ufffdb"
    assert chat_input.metadata({"x": "\udc00"}) == {"x": "\ufffd"}


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
    assert action_server_url("http://127.0.0.1:5055/webhook", "/health") == "http://127.0.0.1:5055/health"
    assert action_server_url("http://actions:5055/webhook/", "/actions") == "http://actions:5055/actions"


def test_bearer_matches_one_of_the_secrets_or_says_no_header():
    from types import SimpleNamespace

    from channels.common.http import bearer_matches

    def request(header=None):
        return SimpleNamespace(headers={} if header is None else {"authorization": header})

    assert bearer_matches(request(), ("k1",)) is None
    assert bearer_matches(request("Bearer k2"), ("k1", "k2")) is True
    assert bearer_matches(request("bearer  k1 "), ("k1",)) is True
    for header in ("Bearer k3", "Basic k1", "Bearer ", "k1"):
        assert bearer_matches(request(header), ("k1",)) is False
    assert bearer_matches(request("Bearer "), ("",)) is False  # no secret set: nothing matches
