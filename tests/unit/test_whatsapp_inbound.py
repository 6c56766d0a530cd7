"""Meta's webhook notifications flattened into messages and statuses (channels/whatsapp/inbound.py)."""
import pytest

from bot.phones import whatsapp_e164
from channels.whatsapp.inbound import (
    MEDIA_REPLIES,
    UNSUPPORTED_REPLY,
    InvalidNotification,
    parse_notification,
)


def value(messages=(), statuses=(), contacts=None):
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": contacts if contacts is not None else [{"profile": {"name": "Kerry Fisher"}, "wa_id": "16315551234"}],
        "messages": list(messages),
        "statuses": list(statuses),
    }


def notification(*values):
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": v, "field": "messages"} for v in values]}],
    }


def message(kind, content, wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="):
    return {"from": "16315551234", "id": wamid, "timestamp": "1683229471", "type": kind, kind: content}


def test_text_message_with_contact_name_and_phone_number_id():
    [inbound] = parse_notification(notification(value([message("text", {"body": "Does it come in another color?"})]))).messages
    assert inbound.readable and inbound.text == "Does it come in another color?"
    assert (inbound.wa_id, inbound.profile_name, inbound.phone_number_id) == (
        "16315551234", "Kerry Fisher", "106540352242922")


def test_interactive_replies_and_template_buttons_carry_their_payload():
    button = message("interactive", {"type": "button_reply", "button_reply": {"id": "/request_invoice", "title": "2a via"}})
    row = message("interactive", {"type": "list_reply", "list_reply": {
        "id": '/request_invoice{"invoice_id": "7"}', "title": "Venc. 10/12", "description": "R$ 99,90"}}, "wamid.2")
    template = message("button", {"text": "Sim", "payload": "/affirm"}, "wamid.3")
    parsed = parse_notification(notification(value([button, row, template]))).messages
    assert [m.text for m in parsed] == ["/request_invoice", '/request_invoice{"invoice_id": "7"}', "/affirm"]
    assert all(m.readable for m in parsed)


@pytest.mark.parametrize("kind, content", [
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "1003383421387256", "voice": True}),
    ("image", {"caption": "comprovante", "mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139650973"}),
    ("document", {"filename": "pix.pdf", "mime_type": "application/pdf", "sha256": "abc", "id": "1376223850470843"}),
    ("video", {"mime_type": "video/mp4", "sha256": "abc", "id": "1200"}),
    ("sticker", {"mime_type": "image/webp", "sha256": "abc", "id": "1300", "animated": False}),
    ("location", {"latitude": -23.55, "longitude": -46.63, "name": "Casa", "address": "Rua A, 1"}),
    ("reaction", {"message_id": "wamid.X", "emoji": "\U0001F44D"}),
])
def test_media_and_other_types_get_a_reply_instead_of_nlu(kind, content):
    [inbound] = parse_notification(notification(value([message(kind, content)]))).messages
    assert not inbound.readable
    assert inbound.reply() == MEDIA_REPLIES[kind]
    if "id" in content:
        assert inbound.media["id"] == content["id"]


def test_unsupported_and_unknown_types_get_the_generic_reply():
    unsupported = {"from": "16315551234", "id": "wamid.U", "timestamp": "1", "type": "unsupported",
                   "errors": [{"code": 131051, "title": "Message type unknown"}]}
    [inbound] = parse_notification(notification(value([unsupported]))).messages
    assert inbound.type == "unsupported" and inbound.reply() == UNSUPPORTED_REPLY


def test_reaction_removal_is_recognised():
    [inbound] = parse_notification(notification(value([message("reaction", {"message_id": "wamid.X"})]))).messages
    assert inbound.is_reaction_removal


def test_statuses_and_several_changes_are_all_read():
    failed = {"id": "wamid.F", "status": "failed", "timestamp": "1", "recipient_id": "16315551234",
              "errors": [{"code": 131047, "title": "Re-engagement message"}]}
    sent = {"id": "wamid.S", "status": "sent", "timestamp": "1", "recipient_id": "16315551234"}
    parsed = parse_notification(notification(value(statuses=[sent, failed], contacts=[]),
                                             value([message("text", {"body": "oi"})])))
    assert [s.status for s in parsed.statuses] == ["sent", "failed"]
    assert parsed.statuses[1].error_codes == (131047,)
    assert len(parsed.messages) == 1


@pytest.mark.parametrize("payload, field", [
    ([], "body"),
    ({"entry": "x"}, "entry"),
    ({"entry": [{"changes": [{"value": {"messages": [{"type": "text"}]}}]}]}, "messages[0]"),
    ({"entry": [{"changes": [{"value": {"messages": {}}}]}]}, "messages"),
])
def test_malformed_notifications_name_the_field(payload, field):
    with pytest.raises(InvalidNotification, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_notification(payload)


@pytest.mark.parametrize("kind, content, field", [
    ("text", "oi", "messages[0].text"),
    ("interactive", "x", "messages[0].interactive"),
    ("interactive", {"type": "button_reply", "button_reply": "x"}, "messages[0].interactive.button_reply"),
    ("interactive", {"type": "list_reply", "list_reply": 7}, "messages[0].interactive.list_reply"),
    ("button", "x", "messages[0].button"),
    ("image", "x", "messages[0].image"),
    ("reaction", ["x"], "messages[0].reaction"),
])
def test_a_message_whose_object_is_a_string_is_dropped_with_a_reason(kind, content, field):
    good = message("text", {"body": "segue"}, wamid="wamid.OK")
    parsed = parse_notification(notification(value([message(kind, content), good])))
    assert [m.message_id for m in parsed.messages] == ["wamid.OK"]
    [reason] = parsed.dropped
    assert f"{field} must be an object" in reason and "message dropped" in reason


def test_string_metadata_or_profile_is_ignored_and_the_message_kept():
    broken = value([message("text", {"body": "oi"})], contacts=[{"profile": "Kerry", "wa_id": "16315551234"}, "x"])
    broken["metadata"] = "106540352242922"
    parsed = parse_notification(notification(broken))
    [inbound] = parsed.messages
    assert (inbound.text, inbound.phone_number_id, inbound.profile_name) == ("oi", "", "")
    assert len(parsed.dropped) == 3
    assert all("ignored" in reason for reason in parsed.dropped)


@pytest.mark.parametrize("sender", ["oi", "5500987654321", "123", "55 21 98765 4321x"])
def test_a_message_from_something_that_is_no_phone_number_is_dropped_with_a_reason(sender):
    good = message("text", {"body": "segue"}, wamid="wamid.OK")
    parsed = parse_notification(notification(value([dict(message("text", {"body": "oi"}), **{"from": sender}), good])))
    assert [m.message_id for m in parsed.messages] == ["wamid.OK"]
    [reason] = parsed.dropped
    assert "messages[0].from" in reason and "message dropped" in reason


def test_a_foreign_sender_is_an_international_number_not_a_brazilian_one_typed_without_55():
    [inbound] = parse_notification(notification(value([message("text", {"body": "hi"})]))).messages
    assert whatsapp_e164(inbound.number) == "16315551234"
