"""Inputs customers really send that NLU cannot place: polite answers, no crash."""
import pytest

from tests.conftest import texts

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "message, expected",
    [
        ("", "vazia"),
        ("    ", "vazia"),
        ("😡😡😡", "em palavras"),
        ("🙏", "em palavras"),
        ("asdkjhaskjdh qwpoeiqwe", "nao entendi"),
    ],
)
def test_unplaceable_messages_get_a_polite_reply(rasa_server, sender, message, expected):
    assert expected in texts(rasa_server.send(sender, message))


def test_a_10000_character_message_is_answered(rasa_server, sender):
    message = ("minha internet nao funciona e eu ja reiniciei tudo " * 200)[:10_000]
    replies = rasa_server.send(sender, message)
    assert texts(replies).strip(), "a long message must still get an answer"


def test_conversation_goes_on_after_bad_input(rasa_server, sender):
    rasa_server.send(sender, "")
    rasa_server.send(sender, "🤔")
    assert "CPF ou CNPJ" in texts(rasa_server.send(sender, "me manda o boletinho"))
