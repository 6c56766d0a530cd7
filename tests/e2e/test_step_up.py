"""Step-up verification on channels where the sender is not verified: a typed
CPF/CNPJ gets a one-time code on the customer's WhatsApp (or e-mail) before
any personal data. Real Rasa, real actions, real Redis, the WhatsApp Graph API
and SMTP stand-ins."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import List

import pytest
import requests

from bot.isp.demo_seed import generated_customers
from tests.conftest import CODE_SENT, pass_step_up, step_up_codes, texts
from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_rest_channel import chat
from tests.e2e.test_websocket_channel import chat_turn, connect
from tests.e2e.test_whatsapp_channel import bodies, new_wa_id, say, shown, wait_text
from tests.e2e.test_whatsapp_channel import text as whatsapp_text

pytestmark = pytest.mark.e2e

MARIA = "529.982.247-25"
MARIA_PHONE = "5511987650001"
MARIA_EMAIL = "maria.silva@example.com"
PADARIA = "11.222.333/0001-81"
NOT_A_CUSTOMER = "853.513.468-93"  # valid check digits, not in the demo ERP
GENERATED = generated_customers()  # (name, cpf, phone, email, contracts)


def customer(index: int):
    """A generated demo customer no other suite talks about: (first name, cpf, phone)."""
    name, cpf, phone, _, _ = GENERATED[index]
    return name.split()[0], cpf, phone


def rest_webhook(rasa_server, sender: str):
    return lambda message: rasa_server.send(sender, message)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def without_ids(replies: List[dict]) -> str:
    return json.dumps([{k: v for k, v in r.items() if k != "recipient_id"} for r in replies], sort_keys=True)


# --- the code flow on each unverified channel ------------------------------------
def test_rest_api_typed_cpf_code_on_whatsapp_then_invoice(rasa_server, graph_api):
    session = f"s-{uuid.uuid4().hex[:12]}"

    def send(message: str) -> List[dict]:
        response = chat(rasa_server, session, message)
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    assert "CPF ou CNPJ" in texts(send("quero a segunda via do boleto"))
    before = len(step_up_codes(graph_api, MARIA_PHONE))
    asked = texts(send(MARIA))
    assert CODE_SENT in asked
    assert "Maria" not in asked and "Localizei" not in asked and "Linha digitavel" not in asked
    (template,) = graph_api.wait_for(
        lambda: [r for r in graph_api.sent(to=MARIA_PHONE, kind="template")
                 if r.json["template"]["name"] == "codigo_verificacao"][before:])
    components = template.json["template"]["components"]
    code = components[0]["parameters"][0]["text"]
    assert re.fullmatch(r"\d{6}", code)
    assert components[1] == {"type": "button", "sub_type": "url", "index": "0",
                             "parameters": [{"type": "text", "text": code}]}
    assert template.json["template"]["language"] == {"code": "pt_BR"}

    answer = texts(send(code))
    assert "Obrigado, Maria! Localizei seu cadastro (***.982.247-**)" in answer
    assert "Linha digitavel do boleto:" in answer
    # verified for the conversation: the next job asks nothing
    again = texts(send("minha internet ta mt lenta"))
    assert "Para lentidao" in again and CODE_SENT not in again


def test_websocket_typed_cpf_code_then_invoice(rasa_server, graph_api):
    session = f"w-{uuid.uuid4().hex[:12]}"

    async def conversation() -> str:
        async with connect(rasa_server, session) as ws:
            async def send(message: str) -> List[dict]:
                frames = await chat_turn(ws, message)
                return [f["data"] for f in frames if f["type"] == "chat"]
            await send("manda o boleto")
            before = len(step_up_codes(graph_api, MARIA_PHONE))
            assert CODE_SENT in texts(await send(MARIA))
            code = graph_api.wait_for(lambda: step_up_codes(graph_api, MARIA_PHONE)[before:])[-1]
            return texts(await send(code))

    answer = asyncio.run(conversation())
    assert "Obrigado, Maria!" in answer and "Linha digitavel do boleto:" in answer


def test_code_by_email_when_whatsapp_cannot_deliver(rasa_server, graph_api, smtp_server, sender):
    send = rest_webhook(rasa_server, sender)
    send("qria a segunda via do boleto pf")
    mails = len(smtp_server.messages(MARIA_EMAIL))
    graph_api.error_next(1, code=100)  # the Graph API refuses the template
    assert CODE_SENT in texts(send(MARIA))
    mail = smtp_server.wait_for(MARIA_EMAIL, mails + 1)[-1]
    assert mail["From"] == "atendimento@provedor.example"
    code = re.search(r"\b(\d{6})\b", mail.get_payload()).group(1)
    answer = texts(send(code))
    assert "Obrigado, Maria!" in answer and "Linha digitavel do boleto:" in answer


# --- what does not work --------------------------------------------------------------
def test_three_wrong_codes_offer_a_person_and_no_invoice(rasa_server, graph_api, sender):
    first_name, cpf, phone = customer(0)
    send = rest_webhook(rasa_server, sender)
    send("manda a fatura")
    send(cpf)
    code = graph_api.wait_for(lambda: step_up_codes(graph_api, phone))[-1]
    assert "ainda tem 2 tentativa" in texts(send(wrong(code)))
    assert "ainda tem 1 tentativa" in texts(send(wrong(code)))
    last = send(wrong(code))
    assert "Nao consegui confirmar que e voce" in texts(last)
    assert {"title": "Falar com atendente", "payload": "/request_human"} in [
        b for r in last for b in r.get("buttons", [])]
    late = send(code)  # the right code after the tries are used up
    everything = texts(last) + texts(late)
    assert "Linha digitavel" not in everything and first_name not in everything
    assert rasa_server.tracker(sender)["slots"]["verified_document"] is None


def test_an_expired_code_gets_a_new_one(rasa_server, graph_api, redis_client, key_prefix, sender):
    first_name, cpf, phone = customer(1)
    send = rest_webhook(rasa_server, sender)
    send("quero pagar minha conta")
    send(cpf)
    old = graph_api.wait_for(lambda: step_up_codes(graph_api, phone))[-1]
    # five minutes pass: the code's key is gone from Redis
    assert redis_client.delete(f"{key_prefix}:stepup:{{conv:{sender}}}:code") == 1
    reply = texts(send(old))
    assert "expirou" in reply and CODE_SENT in reply and "Linha digitavel" not in reply
    new = graph_api.wait_for(lambda: step_up_codes(graph_api, phone)[1:])[-1]
    answer = texts(send(new))
    assert f"Obrigado, {first_name}!" in answer and "Linha digitavel" in answer


def test_codes_per_document_are_limited_across_conversations(rasa_server, graph_api):
    _, cpf, phone = customer(2)
    answers = []
    for attempt in range(6):  # STEP_UP_CODES_PER_HOUR defaults to 5
        send = rest_webhook(rasa_server, f"rate-{attempt}-{uuid.uuid4().hex[:8]}")
        send("manda o boleto")
        answers.append(without_ids(send(cpf)))
    graph_api.wait_for(lambda: len(step_up_codes(graph_api, phone)) >= 5)
    assert len(step_up_codes(graph_api, phone)) == 5, "the sixth conversation got no code"
    assert len(set(answers)) == 1, "the limited conversation reads exactly what the others read"


def test_a_cpf_that_is_not_a_customer_reads_exactly_what_a_customer_reads(rasa_server, graph_api):
    replies = {}
    for document in (MARIA, NOT_A_CUSTOMER):
        send = rest_webhook(rasa_server, f"neutral-{uuid.uuid4().hex[:8]}")
        send("manda a fatura")
        replies[document] = send(document)
    assert without_ids(replies[MARIA]) == without_ids(replies[NOT_A_CUSTOMER])
    assert "Se o CPF estiver cadastrado, enviamos um codigo de 6 digitos" in texts(replies[NOT_A_CUSTOMER])
    assert "Nao encontrei" not in texts(replies[NOT_A_CUSTOMER])


def test_no_code_works_for_a_cpf_that_is_not_a_customer(rasa_server, sender):
    send = rest_webhook(rasa_server, sender)
    send("manda a fatura")
    send(NOT_A_CUSTOMER)
    reply = ""
    for guess in ("000000", "123456", "999999"):
        reply = texts(send(guess))
    assert "Nao consegui confirmar que e voce" in reply
    assert "Linha digitavel" not in reply


# --- who skips it ------------------------------------------------------------------------
def test_a_wa_sender_through_the_rest_webhook_is_not_identified_by_phone(rasa_server):
    response = requests.post(
        f"{rasa_server.url}/webhooks/rest/webhook",
        json={"sender": f"wa:{MARIA_PHONE}", "message": "me manda a segunda via"},
        headers=rasa_server.chat_headers(), timeout=60,
    )
    # refused outright (the REST webhook reserves wa:), or answered without trusting the number
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code == 200:
        answer = texts(response.json())
        assert "Encontrei seu cadastro" not in answer and "Linha digitavel" not in answer


def test_whatsapp_sender_typing_their_own_cpf_skips_the_check(rasa_server, graph_api):
    wa_id = "5511987650001"  # Maria, verified by Meta
    rasa_server.api("POST", f"/conversations/wa:{wa_id}/tracker/events",
                    json={"event": "restart"}).raise_for_status()
    codes_before = len(step_up_codes(graph_api, wa_id))
    say(rasa_server, whatsapp_text(wa_id, f"segunda via pro cpf {MARIA}"))
    wait_text(graph_api, wa_id, "Linha digitavel do boleto:")
    assert len(step_up_codes(graph_api, wa_id)) == codes_before
    assert not any(CODE_SENT in shown(b) for b in bodies(graph_api, wa_id))


def test_whatsapp_sender_typing_someone_elses_cpf_must_pass_the_check(rasa_server, graph_api):
    _, cpf, phone = customer(3)
    wa_id = new_wa_id()  # a WhatsApp number the ERP does not know
    say(rasa_server, whatsapp_text(wa_id, "manda a fatura"))
    wait_text(graph_api, wa_id, "CPF ou CNPJ")
    say(rasa_server, whatsapp_text(wa_id, cpf))
    wait_text(graph_api, wa_id, CODE_SENT)
    graph_api.wait_for(lambda: step_up_codes(graph_api, phone))  # to the owner's number
    assert step_up_codes(graph_api, wa_id) == []
    assert not any("Linha digitavel" in shown(b) for b in bodies(graph_api, wa_id))


# --- the two-contract customer (defect: "1" got "Em que mais posso ajudar?") ----------
def test_padaria_gets_the_invoice_of_the_first_contract_by_number(rasa_server, graph_api, sender):
    send = rest_webhook(rasa_server, sender)
    asked = texts(pass_step_up(send, graph_api, PADARIA, message="quero o boleto cnpj 11222333000181"))
    assert "Obrigado, Padaria!" in asked and "mais de um contrato" in asked
    answer = texts(send("1"))
    assert "Linha digitavel do boleto:" in answer
    assert "Em que mais posso ajudar" not in answer


def test_a_person_during_the_code_question_and_the_atendente_is_told_it_was_not_confirmed(
    rasa_server, graph_api, redis_settings, key_prefix, sender
):
    _, cpf, _ = customer(9)
    send = rest_webhook(rasa_server, sender)
    send("manda o boleto")
    assert CODE_SENT in texts(send(cpf))
    reply = texts(send("quero falar com um atendente"))
    assert "Linha digitavel" not in reply and CODE_SENT not in reply
    queued = DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).find_queued(sender)
    assert "Identidade: NAO confirmada" in queued["summary"], queued["summary"]
    assert cpf not in queued["summary"]


def test_another_cpf_typed_at_the_code_question_asks_again_for_that_one(rasa_server, graph_api, sender):
    _, first_cpf, _ = customer(10)
    first_name, cpf, phone = customer(11)
    send = rest_webhook(rasa_server, sender)
    send("manda o boleto")
    send(first_cpf)
    reply = texts(send(cpf))  # "opa, errei o CPF"
    assert CODE_SENT in reply and "O codigo tem 6 numeros" not in reply
    code = graph_api.wait_for(lambda: step_up_codes(graph_api, phone))[-1]
    answer = texts(send(code))
    assert f"Obrigado, {first_name}!" in answer and "Linha digitavel" in answer
