from actions.fallback import fallback_reply


def test_empty_and_whitespace_messages():
    assert "vazia" in fallback_reply("")
    assert "vazia" in fallback_reply("   \n\t ")


def test_emoji_only_message():
    assert "em palavras" in fallback_reply("😡😡👍")


def test_very_long_message_is_asked_to_be_summarised():
    assert "resumir" in fallback_reply("internet " * 1500)


def test_ordinary_unclear_message():
    assert "nao entendi" in fallback_reply("qual a cor do ceu em marte")
