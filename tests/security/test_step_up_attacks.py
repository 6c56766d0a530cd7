"""Attacks on the step-up check (issue 12, sections 3 and 5): a typed CPF alone
never yields another customer's invoice, contract or unlock on the chat REST
API, Rasa's REST webhook or the WebSocket; guessing the code is stopped.

Real ``rasa run`` and action server (the session's), real Redis, the WhatsApp
stand-in that receives the codes. Victims are generated demo customers no
other suite talks to; every loop is bounded.
"""
from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from typing import Callable, Dict, List

import pytest

from bot.isp.demo_seed import generated_customers
from tests.conftest import CODE_SENT, pass_step_up, step_up_codes, texts
from tests.e2e.test_rest_channel import chat
from tests.e2e.test_websocket_channel import chat_turn, connect

pytestmark = pytest.mark.e2e

Send = Callable[[str], List[dict]]
GENERATED = generated_customers()
MARIA = "529.982.247-25"
# What a victim's data looks like in a reply: invoice, PIX, address, unlock, tickets.
LEAKS = ("Linha digitavel", "PIX copia e cola", "Boleto em PDF", "Rua das Flores", "Liberei",
         "Protocolo", "Localizei seu cadastro", "faturas em aberto", "mais de um contrato")


def victim(index: int) -> Dict[str, str]:
    name, cpf, phone, _, contracts = GENERATED[index]
    assert contracts[0][1] == "blocked_debt", "the victims are blocked: an unlock would show"
    return {"first_name": name.split()[0], "cpf": cpf, "phone": phone}


def rest_api(server) -> Send:
    session = f"atk-{uuid.uuid4().hex[:12]}"

    def send(message: str) -> List[dict]:
        response = chat(server, session, message)
        assert response.status_code == 200, response.text
        return response.json()["messages"]
    return send


def rest_webhook(server) -> Send:
    sender = f"atk-{uuid.uuid4().hex[:12]}"
    return lambda message: server.send(sender, message)


def websocket(server) -> Send:
    session = f"w-atk-{uuid.uuid4().hex[:10]}"

    def send(message: str) -> List[dict]:
        async def turn() -> List[dict]:
            async with connect(server, session) as ws:
                return [f["data"] for f in await chat_turn(ws, message) if f["type"] == "chat"]
        return asyncio.run(turn())
    return send


CHANNELS = {"rest_api": (rest_api, 4), "rest_webhook": (rest_webhook, 8), "websocket": (websocket, 18)}


def contract_of(rasa_server, demo_db, cpf: str):
    """The victim's contract id, status and ticket count in the demo ERP."""
    rasa_server.send(f"seed-{uuid.uuid4().hex[:8]}", "/ask_plans")  # the ERP file exists after a first call
    with sqlite3.connect(demo_db) as db:
        return db.execute(
            "SELECT c.id, c.status, (SELECT COUNT(*) FROM tickets t WHERE t.customer_id = u.id) "
            "FROM contracts c JOIN customers u ON u.id = c.customer_id WHERE u.document = ?", (cpf,),
        ).fetchone()


def assert_nothing_of(target: Dict[str, str], replies: List[dict]) -> None:
    said = texts(replies)
    assert target["first_name"] not in said, said
    for leak in LEAKS:
        assert leak not in said, (leak, said)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_a_typed_cpf_alone_never_yields_anothers_invoice_contract_or_unlock(
    rasa_server, graph_api, demo_db, channel
):
    make, index = CHANNELS[channel]
    target = victim(index)
    contract_id, status, tickets = contract_of(rasa_server, demo_db, target["cpf"])
    guess = "000000"

    # 1. invoice, the victim's CPF, a contract by number, three guessed codes
    send = make(rasa_server)
    replies = send("manda a segunda via do boleto") + send(target["cpf"])
    assert CODE_SENT in texts(replies)
    for message in ("1", guess, "111111", "222222", guess):
        replies += send(message)
    assert_nothing_of(target, replies)

    # 2. the CPF and the contract smuggled in as entities of an unlock request
    send = make(rasa_server)
    replies = send(f'/request_trust_unlock{{"cpf": "{target["cpf"]}", "contract_id": "{contract_id}"}}')
    replies += send(f'/inform_cpf{{"contract_id": "{contract_id}"}}')
    replies += send("/request_trust_unlock")
    assert_nothing_of(target, replies)

    # 3. verified as oneself (Maria), then the victim's CPF: the check is tied to the document
    send = make(rasa_server)
    send("quero a fatura")
    pass_step_up(send, graph_api, MARIA)
    replies = send(f'/request_invoice{{"cpf": "{target["cpf"]}"}}')
    replies += send(f'/request_trust_unlock{{"cpf": "{target["cpf"]}"}}')
    replies += send("/ask_ticket_status")
    assert CODE_SENT in texts(replies)
    assert_nothing_of(target, replies)

    assert contract_of(rasa_server, demo_db, target["cpf"]) == (contract_id, status, tickets), "the ERP did not change"
    assert status == "blocked_debt"


def test_guessing_the_code_is_stopped(rasa_server, graph_api):
    """Up to 8 rounds of "CPF, three guesses", in new conversations and in one:
    at most STEP_UP_CODES_PER_HOUR (5) codes are ever issued, none is guessed."""
    name, cpf, phone, _, _ = GENERATED[5]
    rng = random.Random(12)
    issued_before = len(step_up_codes(graph_api, phone))
    replies: List[dict] = []
    same = rest_webhook(rasa_server)
    for attempt in range(8):
        # rounds 1 and 3 retry in one conversation (its rate limit allows two rounds a minute)
        send = same if attempt in (1, 3) else rest_webhook(rasa_server)
        replies += send("/request_invoice") + send(cpf)
        for _ in range(3):
            replies += send(f"{rng.randrange(10 ** 6):06d}")
    issued = step_up_codes(graph_api, phone)[issued_before:]
    assert 1 <= len(issued) <= 5, issued
    said = texts(replies)
    assert name.split()[0] not in said and "Linha digitavel" not in said
    assert "Nao consegui confirmar que e voce" in said
