"""PII in logs after a scripted day of conversations on every channel.

Customers give CPFs with and without punctuation, CNPJs, phones with and
without +55 and the ninth digit and e-mails, in their messages, in metadata,
in URLs, as WhatsApp numbers and in bad requests (refused bodies, bad frames,
a desk login). Afterwards no log line any process of the stack wrote (Rasa,
actions, desk, which runs inside Rasa; the shared pair and the LLM pair)
holds one of those values in clear, in any of its written forms; and the
request bodies the OpenAI stand-in recorded (fallback answers and the
handoff summary) carry none of them either.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Dict, List

import pytest
import requests
import websockets

from bot.documents import mask_document
from tests.e2e.test_websocket_channel import ws_url
from testing.widget_client import WidgetClient
from tests.security.conftest import AUTH, LogWindow, post_whatsapp, whatsapp_delivery

pytestmark = pytest.mark.e2e

# Valid check digits (the bot treats them as real documents); in nobody's record.
CPF = "526.018.159-06"
CPF_2 = "08301661305"
CNPJ = "18.609.139/0996-38"
MOBILE = "+55 11 97766-5544"  # with +55 and the ninth digit
MOBILE_LOCAL = "(21) 98811-2233"  # without +55
LANDLINE = "31 3344-5566"  # no ninth digit
WA_ID = "5519977331122"  # a WhatsApp number (sender id wa:<number>)
WA_ID_OLD = "551977331133"  # the same kind of number without the ninth digit
EMAIL = "maria.fuzz@gmail.com"
EMAIL_2 = "joao_teste@empresa.com.br"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def needles() -> Dict[str, List[str]]:
    """Every form in which each value could be written: as sent, digits only,
    without the country code, without the area code."""
    forms: Dict[str, List[str]] = {}
    for value in (CPF, CPF_2):
        d = digits(value)
        forms[value] = sorted({value, d, f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"})
    d = digits(CNPJ)
    forms[CNPJ] = sorted({CNPJ, d, f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"})
    for value in (MOBILE, MOBILE_LOCAL, LANDLINE, WA_ID, WA_ID_OLD):
        number = digits(value)
        national = number[2:] if number.startswith("55") and len(number) >= 12 else number
        forms[value] = sorted({value, number, national, national[2:], national[-9:] if len(national) == 11 else national[-8:],
                               f"{national[-9:-4]}-{national[-4:]}" if len(national) == 11 else f"{national[-8:-4]}-{national[-4:]}"})
    for value in (EMAIL, EMAIL_2):
        forms[value] = [value, value.split("@")[0]]
    return forms


def rest_api_day(server) -> None:
    session = f"pii-{uuid.uuid4().hex[:8]}"
    for message in ("quero a segunda via do boleto", CPF, f"meu cnpj e {digits(CNPJ)}",
                    f"me liga no {MOBILE} ou manda email pra {EMAIL}", f"fixo {LANDLINE}"):
        requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=60, json={
            "session_id": session, "message": message,
            "metadata": {"cpf": digits(CPF_2), "phone": MOBILE_LOCAL, "email": EMAIL_2}})
    # in URLs and bad requests
    requests.get(f"{server.url}/api/v1/chat/stream", headers=AUTH, timeout=60, params={
        "session_id": f"pii-{uuid.uuid4().hex[:8]}", "message": f"cpf {CPF_2} email {EMAIL}"}).close()
    requests.get(f"{server.url}/api/v1/chat/{digits(CPF)}/messages", headers=AUTH, timeout=30,
                 params={"after": EMAIL})
    requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=30,
                  data=f'{{"session_id": "{digits(CPF)}", "message": "{EMAIL}", ')
    requests.post(f"{server.url}/api/v1/chat", headers={"Authorization": f"Bearer {EMAIL}"}, timeout=30,
                  json={"session_id": "x", "message": CPF})
    requests.post(f"{server.url}/api/v1/chat", headers=AUTH, timeout=30,
                  json={"session_id": "x", "message": f"{CPF} " + "x" * 5000, "cpf": CPF_2})


def rasa_rest_day(server) -> None:
    sender = f"pii-{uuid.uuid4().hex[:8]}"
    for message in ("manda o boleto", digits(CPF_2), f"meu zap {MOBILE} email {EMAIL}"):
        server.send(sender, message)
    requests.post(f"{server.url}/webhooks/rest/webhook", headers=server.chat_headers(), timeout=30,
                  json={"sender": EMAIL, "message": CNPJ, "metadata": {"phone": LANDLINE}})


def websocket_day(server) -> None:
    async def talk() -> None:
        session = f"pii-{uuid.uuid4().hex[:8]}"
        async with websockets.connect(ws_url(server, session)) as ws:
            await ws.recv()
            for message in ("2a via", CPF, f"tel {MOBILE_LOCAL}"):
                await ws.send(json.dumps({"type": "chat", "data": {"message": message, "metadata": {"email": EMAIL}}}))
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if frame["type"] == "typing" and frame["data"].get("active") is False:
                        break
            await ws.send(f'{{"type": "chat", "data": {{"message": "{CNPJ} {EMAIL_2}"')  # bad JSON
            await ws.send(json.dumps({"type": CPF, "data": EMAIL}))  # unknown type
            await ws.send(json.dumps({"type": "ping", "id": "last"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] != "pong":
                pass

    asyncio.run(talk())


def socketio_day(server) -> None:
    widget = WidgetClient(server.url).connect()
    try:
        widget.session()
        for message in ("quero pagar minha fatura", digits(CPF), f"email {EMAIL_2}"):
            widget.say(message, customData={"phone": MOBILE, "cpf": CPF_2})
        widget.sio.emit("session_request", {"session_id": EMAIL})  # refused: not a session id
        widget.drain(1)
    finally:
        widget.close()


def whatsapp_day(server, graph_api) -> None:
    for wa_id, message in ((WA_ID, "quero o boleto"), (WA_ID, f"cpf {CPF}"),
                           (WA_ID_OLD, f"meu email {EMAIL} fone {LANDLINE}")):
        post_whatsapp(server, json.dumps(whatsapp_delivery(wa_id, message)).encode())
    unsigned = whatsapp_delivery(WA_ID, f"forjado {CPF_2}")
    post_whatsapp(server, json.dumps(unsigned).encode(), signed=False)
    graph_api.wait_for(lambda: graph_api.sent(to=WA_ID_OLD) or None, 60)
    time.sleep(2)


def desk_day(server) -> None:
    requests.post(f"{server.url}/desk/api/auth/login", timeout=30,
                  json={"username": EMAIL, "password": CPF})


LLM_QUESTIONS = [
    f"meu roteador e dual band? meu email e {EMAIL}",
    f"meu roteador e dual band? me responde no {MOBILE}",
    f"o roteador dual band pega 5g? meu fixo e {LANDLINE} e o email {EMAIL_2}",
    f"meu roteador e dual band? o cpf do titular e {CPF}",
    f"o roteador e dual band? cnpj da empresa {digits(CNPJ)}, zap {MOBILE_LOCAL}",
    f"roteador dual band funciona com o cpf {digits(CPF_2)}?",
]


def llm_day(stack) -> None:
    """Questions for the LLM fallback carrying personal data, each in a new conversation
    (those with a CPF/CNPJ go to identification instead: NLU finds the document)."""
    for question in LLM_QUESTIONS:
        stack.rasa.send(f"pii-{uuid.uuid4().hex[:8]}", question)


def test_a_day_of_conversations_leaves_no_personal_data_in_logs_or_llm_requests(
        rasa_server, action_server, graph_api, llm_stack, figures):
    llm = llm_stack.llm
    llm.set("answer", reply="Sim! Nosso roteador e dual band.")
    llm.clear()
    window = LogWindow(rasa_server, action_server, llm_stack.rasa, llm_stack.actions)

    rest_api_day(rasa_server)
    rasa_rest_day(rasa_server)
    websocket_day(rasa_server)
    socketio_day(rasa_server)
    whatsapp_day(rasa_server, graph_api)
    desk_day(rasa_server)
    llm_day(llm_stack)
    time.sleep(1)  # the last log lines flushed

    logs = window.texts()
    bodies = [json.dumps(r["body"], ensure_ascii=False) for r in llm.requests]
    hits = []
    for value, forms in needles().items():
        for form in forms:
            hits += [f"{name}: {form!r} (of {value!r})" for name, text in logs.items() if form in text]
            hits += [f"LLM request: {form!r} (of {value!r})" for body in bodies if form in body]
    lines = sum(len(text.splitlines()) for text in logs.values())
    figures.add(f"PII: {len(needles())} values x {sum(map(len, needles().values()))} written forms, "
                f"{lines} log lines of {len(logs)} processes and {len(bodies)} LLM requests searched, "
                f"{len(hits)} hits")
    assert not hits, "\n".join(sorted(set(hits)))
    # the search looked at real output: the masked forms are there
    everything = "\n".join(logs.values())
    assert mask_document(digits(CPF)) in everything
    assert len(bodies) >= 2 and any("m***@gmail.com" in body for body in bodies)
