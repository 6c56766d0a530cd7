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
