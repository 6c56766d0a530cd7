"""The jobs on the demo ERP: what the customer reads and what changed in its database."""
import sqlite3

import pytest

from tests.conftest import CODE_SENT, pass_step_up, texts
from tests.e2e.test_whatsapp_channel import bodies, new_wa_id, say, shown, wait_text
from tests.e2e.test_whatsapp_channel import text as whatsapp_text

pytestmark = pytest.mark.e2e

JOAO = "111.444.777-35"  # blocked for debt, two overdue invoices, Jardim America
MARIA = "52998224725"  # active, one open invoice


def identify(rasa_server, graph_api, sender, document, message=""):
    """The typed document and the code its owner received (tests/conftest.py); the replies."""
    return pass_step_up(lambda text: rasa_server.send(sender, text), graph_api, document, message)


def query(demo_db, sql, *params):
    with sqlite3.connect(demo_db) as db:
        return db.execute(sql, params).fetchall()


def test_blocked_customer_no_connection_then_trust_unlock(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, "to sem internet faz 2 dias")
    reply = texts(identify(rasa_server, graph_api, sender, JOAO))
    assert "bloqueada por fatura em aberto" in reply

    reply = texts(rasa_server.send(sender, "/request_trust_unlock"))
    assert "Liberei sua internet em confianca ate" in reply
    assert query(demo_db, "SELECT status FROM contracts c JOIN customers u ON u.id = c.customer_id "
                          "WHERE u.document = '11144477735'") == [("active",)]

    reply = texts(rasa_server.send(sender, "/request_trust_unlock"))
    assert "Nao consegui fazer o desbloqueio de confianca" in reply


def test_invoice_lists_all_open_and_sends_the_chosen_one(rasa_server, graph_api, sender):
    rasa_server.send(sender, "qro pagar o que ta atrasado")
    replies = identify(rasa_server, graph_api, sender, "11144477735", "cpf 11144477735")
    lines = [r.get("text", "") for r in replies]
    assert any("faturas em aberto" in line for line in lines)
    assert any(line.startswith("00020126") for line in lines), "PIX copia e cola alone"
    barcodes = [line for line in lines if line.startswith("34191.")]
    assert len(barcodes) == 1, "the linha digitavel is a message of its own"
    other = next(b for r in replies for b in r.get("buttons", []) if b["title"].startswith("Venc."))

    chosen = [r.get("text", "") for r in rasa_server.send(sender, other["payload"])]
    other_barcodes = [line for line in chosen if line.startswith("34191.")]
    assert other_barcodes and other_barcodes != barcodes


def test_ticket_is_opened_then_found_by_protocol(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, "preciso de um tecnico aqui, o cabo arrebentou")
    assert "Qual periodo" in texts(identify(rasa_server, graph_api, sender, MARIA))
    assert "manha ou a tarde" in texts(rasa_server.send(sender, "qualquer hora"))
    reply = texts(rasa_server.send(sender, "de manha pfv"))
    assert "Periodo preferido: manha (8h as 12h)." in reply
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    assert query(demo_db, "SELECT subject, status, description FROM tickets WHERE protocol = ?",
                 protocol) == [("technical_visit", "open", "Pedido de visita tecnica pelo assistente "
                                "virtual. Periodo preferido: manha (8h as 12h).")]

    reply = texts(rasa_server.send(sender, f"como ta o protocolo {protocol}?"))
    assert f"Protocolo {protocol} (visita tecnica)" in reply
    assert "aguardando a equipe" in reply


def test_address_change_asks_the_new_address_for_the_ticket(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, "vou me mudar semana q vem, quero levar a net")
    assert "Qual o endereco novo?" in texts(identify(rasa_server, graph_api, sender, MARIA))
    assert "endereco completo" in texts(rasa_server.send(sender, "pro centro"))
    reply = texts(rasa_server.send(sender, "Rua das Palmeiras 120, Centro, Sao Paulo"))
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    (description,), = query(demo_db, "SELECT description FROM tickets WHERE protocol = ?", protocol)
    assert "Endereco novo: Rua das Palmeiras 120, Centro, Sao Paulo." in description


def test_cancellation_is_accepted_without_retention(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, "quero cancelar a internet")
    reply = texts(identify(rasa_server, graph_api, sender, MARIA))
    assert "cancelamento foi registrado" in reply
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    assert query(demo_db, "SELECT subject FROM tickets WHERE protocol = ?", protocol) == [("cancellation",)]


def test_valid_cpf_of_someone_who_is_not_a_customer(rasa_server, sender):
    # Before the check nothing tells whether a CPF is a customer's (tests/e2e/test_step_up.py)
    rasa_server.send(sender, "manda minha fatura")
    replies = texts(rasa_server.send(sender, "853.513.468-93"))
    assert CODE_SENT in replies
    assert "Nao encontrei" not in replies


def test_plans_come_from_the_backend(rasa_server, sender):
    reply = texts(rasa_server.send(sender, "/ask_plans"))
    assert "Fibra 500 Mega: R$ 119,90/mes" in reply


# wa: senders come only through the signed WhatsApp webhook (the REST webhook
# refuses them); Maria identified by phone: test_whatsapp_channel.py.
def whatsapp_says(rasa_server, graph_api, wa_id: str, message: str, expected: str) -> str:
    """One WhatsApp text in, the first reply to ``wa_id`` showing ``expected`` out."""
    say(rasa_server, whatsapp_text(wa_id, message))
    return shown(wait_text(graph_api, wa_id, expected))


def test_unknown_whatsapp_phone_falls_back_to_the_cpf_question(rasa_server, graph_api):
    wa_id = new_wa_id()
    whatsapp_says(rasa_server, graph_api, wa_id, "manda a fatura", "CPF ou CNPJ")


def test_plan_change_asks_which_plan_and_records_it(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, "quero trocar meu plano")
    replies = identify(rasa_server, graph_api, sender, MARIA)
    assert "Pra qual plano voce quer mudar?" in texts(replies)
    payloads = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert '/request_plan_change{"plan_speed": "Fibra 1 Giga"}' in payloads
    assert "Esse plano nao temos" in texts(rasa_server.send(sender, "o de 50 mega"))
    reply = texts(rasa_server.send(sender, "o de 700"))
    assert "mudanca de plano registrado" in reply
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    (description,), = query(demo_db, "SELECT description FROM tickets WHERE protocol = ?", protocol)
    assert "Plano desejado: Fibra 700 Mega." in description


def test_plan_change_with_the_plan_in_the_request_does_not_ask_again(rasa_server, graph_api, demo_db, sender):
    rasa_server.send(sender, '/request_plan_change{"plan_speed": "1 giga"}')
    reply = texts(identify(rasa_server, graph_api, sender, MARIA))
    assert "Pra qual plano" not in reply and "mudanca de plano registrado" in reply
    assert "Plano desejado: Fibra 1 Giga." in reply


def test_new_customer_leaves_a_lead_with_a_protocol(rasa_server, demo_db, sender):
    assert "Qual o seu nome completo?" in texts(rasa_server.send(sender, "quero contratar a internet de vcs"))
    plans = texts(rasa_server.send(sender, "/ask_plans"))  # a question in the middle
    assert "Fibra 500 Mega" in plans and "Qual o seu nome completo?" in plans
    assert "nome e sobrenome" in texts(rasa_server.send(sender, "jose"))
    assert "endereco da instalacao" in texts(rasa_server.send(sender, "jose carlos pereira"))
    assert "telefone com DDD" in texts(rasa_server.send(sender, "Rua Sete de Setembro, 80, Centro"))
    assert "Nao reconheci o telefone" in texts(rasa_server.send(sender, "1234"))
    reply = texts(rasa_server.send(sender, "(11) 97654-3210"))
    assert "Prontinho, Jose! Registrei seu interesse" in reply
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    assert query(demo_db, "SELECT name, phone, address FROM leads WHERE protocol = ?", protocol) == [
        ("Jose Carlos Pereira", "11976543210", "Rua Sete de Setembro, 80, Centro")]


def test_new_customer_on_whatsapp_is_not_asked_the_phone(rasa_server, graph_api, demo_db):
    wa_id = "553188887777"  # no ninth digit, as old accounts send it
    whatsapp_says(rasa_server, graph_api, wa_id, "queria assinar o plano de 500 mega", "nome completo")
    whatsapp_says(rasa_server, graph_api, wa_id, "Rita de Souza", "endereco")
    reply = whatsapp_says(rasa_server, graph_api, wa_id, "Av Brasil 1500, Funcionarios, Belo Horizonte",
                          "Protocolo: ")
    assert "no plano 500 mega" in reply
    assert not any("telefone" in shown(body) for body in bodies(graph_api, wa_id))
    protocol = reply.split("Protocolo: ")[1].split(".")[0]
    assert query(demo_db, "SELECT name, phone, plan FROM leads WHERE protocol = ?", protocol) == [
        ("Rita de Souza", "5531988887777", "500 mega")]
