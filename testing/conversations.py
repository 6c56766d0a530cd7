"""Realistic pt-BR conversations for the benches that measure a turn.

Thirty customers, typed the way WhatsApp customers type (no accents, slang,
typos, abbreviations), over the paths the bot serves most: greetings, plans,
opening hours, invoices and unlocks for a document of the demo ERP, no or slow
connection, outages, Wi-Fi password, ticket status, a new service, small talk
and goodbyes. Nothing here is training data (``data/``) nor a test utterance:
a bench measures the model on text it has not seen, as production does.

Documents are the demo ERP's (bot/isp/demo_seed.py); benches run with
``STEP_UP_ACTIONS=none`` so a typed document is answered at once (the step-up
code is a separate, per-customer question a bench cannot type).
"""
from __future__ import annotations

from typing import List

MARIA = "529.982.247-25"
JOAO = "11144477735"
ANA = "390.533.447-05"
PADARIA = "11.222.333/0001-81"

CONVERSATIONS: List[List[str]] = [
    ["bom diaaa", "qto ta o plano de 500 mega", "e o de 1 giga?", "blz, obrigado", "falou"],
    ["oii", "preciso da segunda via do boleto", MARIA, "valeu mesmo", "tchauu"],
    ["boa tarde", "minha net caiu dsd ontem", JOAO, "ah entendi", "ok obg"],
    ["olaa", "internet mto lenta hj", ANA, "certo", "ate mais"],
    ["e ai", "vcs abrem sabado?", "e feriado tb?", "beleza", "flw"],
    ["boa noite", "to sem internet aqui no bairro todo", "tem alguma manutencao?", "ta bom", "vlw"],
    ["oi td bem?", "esqueci a senha do wifi", MARIA, "show", "tchau"],
    ["opa", "quero contratar internet pra minha casa", "quais planos tem", "obrigada", "bjs"],
    ["bom dia", "paguei a fatura mas continua bloqueado", JOAO, "ok", "brigado"],
    ["ola", "vc e robo ou gente?", "hmm ok", "qual o horario de vcs", "valeu"],
    ["oi", "quero ver minha conta", PADARIA, "obrigado", "ate logo"],
    ["boa tarde pessoal", "a conexao ta caindo toda hora", ANA, "entendi", "fui"],
    ["oie", "quanto custa o plano mais barato", "tem fidelidade?", "ok valeu", "tchau tchau"],
    ["bom diaa", "como faco pra pagar o boleto atrasado", MARIA, "certinho", "obg"],
    ["ola boa noite", "a net ta uma carroca", JOAO, "ta", "flw"],
    ["oi", "atende domingo?", "ok", "obrigada", "ate"],
    ["salve", "tem fibra no centro?", "quais as velocidades", "show de bola", "valeu"],
    ["oi bom dia", "segunda via da conta de luz, digo, da internet", ANA, "valeu", "tchau"],
    ["e ae", "sem sinal nenhum no roteador", MARIA, "blz", "vlw"],
    ["boa tarde", "desbloqueia minha internet por favor", JOAO, "obrigado", "tchau"],
    ["oi", "queria saber sobre os planos", "o de 300 mega tem wifi 6?", "massa", "ate mais"],
    ["bom dia", "ta tendo queda de internet na regiao?", "ok obrigado", "tchau"],
    ["oii", "a internet ta muito devagar a noite", ANA, "ok", "valeu"],
    ["boa noite", "qual horario de atendimento", "ta bom entao", "brigada"],
    ["ola", "preciso do boleto deste mes", PADARIA, "obrigado", "tchau"],
    ["opa bom dia", "vcs sao bot?", "ah ta", "quero saber dos planos", "valeu"],
    ["oi", "minha internet nao funciona", MARIA, "certo", "obrigada"],
    ["boa tarde", "fatura veio errada?", JOAO, "ok", "flw"],
    ["eae", "que horas fecha hoje", "valeu", "tchau"],
    ["bom dia", "to sem net no apto", ANA, "ok aguardo", "obg"],
]


def turns(count: int) -> List[tuple]:
    """``count`` (conversation number, message) pairs, the conversations in turn and
    repeated under new numbers until ``count`` messages are reached."""
    out: List[tuple] = []
    round_ = 0
    while len(out) < count:
        for number, messages in enumerate(CONVERSATIONS):
            for message in messages:
                out.append((round_ * len(CONVERSATIONS) + number, message))
        round_ += 1
    return out[:count]
