"""Pure rules of proactive WhatsApp: numbers, opt-out commands, templates."""
import pytest

from bot.errors import InvalidInput
from bot.outreach.consent import RESUME, STOP, consent_command
from bot.outreach.settings import ROOT
from bot.outreach.templates import TemplateBook
from bot.phones import whatsapp_e164


@pytest.mark.parametrize("given, expected", [
    ("+55 (11) 98765-4321", "5511987654321"),
    ("11987654321", "5511987654321"),
    ("551187654321", "5511987654321"),      # mobile without the ninth digit gets it
    ("5511 3333-4444", "551133334444"),      # landline stays 8 digits
    ("+1 415 555 0100", "14155550100"),
    ("0055 21 99999 8888", "5521999998888"),
])
def test_numbers_become_e164_with_the_ninth_digit(given, expected):
    assert whatsapp_e164(given) == expected


@pytest.mark.parametrize("bad", ["", "abc", "+55 11 1234", "5500987654321", "55119876543210", "1234567",
                                 "55 11 88765 4321"])
def test_invalid_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        whatsapp_e164(bad)


@pytest.mark.parametrize("text, command", [
    ("SAIR", STOP), ("sair.", STOP), ("  Parar ", STOP), ("cancelar mensagens", STOP),
    ("Cancelar   mensagens!", STOP), ("VOLTAR", RESUME), ("voltar", RESUME),
    ("quero sair do plano", None), ("como faco pra voltar a ter internet", None), ("", None),
])
def test_only_whole_message_commands_change_consent(text, command):
    assert consent_command(text) == command


@pytest.fixture(scope="module")
def book():
    return TemplateBook.load(ROOT / "whatsapp_templates.yml")


def test_campaign_message_fills_parameters_in_metas_shape(book):
    message = book.get("lembrete_fatura").message(
        {"customer_name": "Maria", "amount": "99,90", "due_date": "10/12", "pix_code": "000201PIX"})
    assert message == {"type": "template", "template": {
        "name": "lembrete_fatura", "language": {"code": "pt_BR"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "99,90"},
                                            {"type": "text", "text": "10/12"}]},
            {"type": "button", "sub_type": "copy_code", "index": "0",
             "parameters": [{"type": "coupon_code", "coupon_code": "000201PIX"}]}]}}


def test_checked_request_passes_components_through(book):
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "Centro"}]}]
    body = book.checked("aviso_normalizado", "pt_BR", components)
    assert body["template"]["components"] is components


@pytest.mark.parametrize("name, language, components, field", [
    (None, None, [], "template_name"),
    ("nao_existe", None, [], "template_name"),
    ("aviso_normalizado", "en_US", [], "language"),
    ("aviso_normalizado", None, [{"type": "body", "parameters": [{"type": "text", "text": "so um"}]}], "components"),
    ("aviso_normalizado", None, "body", "components"),
    ("aviso_normalizado", None, [{"type": "footer"}], "components[0].type"),
    ("aviso_normalizado", None, [{"type": "body", "parameters": [{"text": "sem tipo"}]}],
     "components[0].parameters"),
    ("lembrete_fatura", None, [{"type": "body", "parameters": [{"type": "text", "text": "x"}] * 3}], "components"),
    ("lembrete_fatura", None, [{"type": "body", "parameters": [{"type": "text", "text": "x"}] * 3},
                               {"type": "button", "sub_type": "url", "index": "0",
                                "parameters": [{"type": "text", "text": "x"}]}], "components[1].sub_type"),
])
def test_requests_that_do_not_fit_the_approved_template_name_the_field(book, name, language, components, field):
    with pytest.raises(InvalidInput) as error:
        book.checked(name, language, components)
    assert error.value.field == field


def test_the_approved_wording_is_rendered_with_the_body_parameters(book):
    template = book.get("lembrete_fatura")
    assert template.parameters() == ("customer_name", "amount", "due_date", "pix_code")
    assert template.render({"customer_name": "Maria", "amount": "99,90", "due_date": "10/12/2026", "pix_code": "x"}) \
        == "Ola Maria, sua fatura de R$ 99,90 vence em 10/12/2026. Copie o codigo PIX no botao abaixo."


@pytest.mark.parametrize("values, field", [
    ({}, "parameters.customer_name"),
    ({"customer_name": "  "}, "parameters.customer_name"),
    ({"customer_name": 7}, "parameters.customer_name"),
    ({"customer_name": "Ana\nPaula"}, "parameters.customer_name"),
    ({"customer_name": "Ana" + " " * 5 + "Paula"}, "parameters.customer_name"),
    ({"customer_name": "A" * 1025}, "parameters.customer_name"),
    ({"customer_name": "Ana", "cpf": "1"}, "parameters.cpf"),
    (["Ana"], "parameters"),
])
def test_template_parameters_by_name_are_checked_naming_the_field(book, values, field):
    with pytest.raises(InvalidInput) as refused:
        book.get("pesquisa_satisfacao").filled(values)
    assert refused.value.field == field


def test_a_template_whose_wording_does_not_match_its_parameters_is_refused_at_load(tmp_path):
    path = tmp_path / "templates.yml"
    path.write_text("templates:\n  t:\n    category: utility\n    text: 'Oi {{1}} {{2}}'\n    body: [customer_name]\n")
    with pytest.raises(ValueError, match="text must use"):
        TemplateBook.load(path)


def test_a_new_session_keeps_the_invoice_of_the_reminder_the_customer_answers():
    from rasa_sdk import Tracker

    from actions.handoff import proactive_context

    def tracker(events):
        return Tracker("wa:5511987650001", {}, {}, events, False, None, {}, "action_listen")

    reminder = {"event": "bot", "text": "Ola", "metadata": {"outreach": {"invoice_id": "7", "contract_id": "3"}}}
    answered = [reminder, {"event": "action", "name": "action_listen"}]
    assert [(e["name"], e["value"]) for e in proactive_context(tracker(answered))] == [
        ("invoice_id", "7"), ("contract_id", "3")]
    # already answered in an earlier session, or no reminder at all: nothing carried over
    assert proactive_context(tracker([reminder, {"event": "user", "text": "ok"}])) == []
    assert proactive_context(tracker([{"event": "bot", "text": "Oi", "metadata": {}}])) == []
