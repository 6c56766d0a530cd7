"""Which answers a taken-over idempotency key replays from the tracker (channels/common/turn.py)."""
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from channels.common.turn import answers_of


def test_the_answers_of_the_message_id_up_to_the_next_user_message():
    events = [
        UserUttered("oi", message_id="m-0"),
        BotUttered("Ola!", {"buttons": [{"title": "2a via", "payload": "/request_invoice"}]}),
        UserUttered("quero o boleto", message_id="idem-1"),
        ActionExecuted("invoice_form"),
        SlotSet("requested_slot", "cpf"),
        BotUttered("Qual o seu CPF?"),
        BotUttered(data={"custom": {"kind": "hint"}}),
        UserUttered("tchau", message_id="m-2"),
        BotUttered("Ate mais!"),
    ]
    answers = answers_of(events, "idem-1")
    assert [a["text"] for a in answers] == ["Qual o seu CPF?", None]
    assert answers[1]["custom"] == {"kind": "hint"}
    assert answers_of(events, "m-0")[0]["buttons"][0]["payload"] == "/request_invoice"


def test_a_message_the_tracker_does_not_hold_is_none():
    events = [UserUttered("oi", message_id="m-0"), BotUttered("Ola!")]
    assert answers_of(events, "idem-lost") is None
    assert answers_of(events, None) is None
    assert answers_of([UserUttered("oi", message_id="idem-1")], "idem-1") == []
