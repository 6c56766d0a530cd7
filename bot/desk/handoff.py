"""What a handoff says and decides, as pure functions (no Rasa, no Redis).

``action_handoff`` (action server) and the desk connector (Rasa server) both
speak to the customer about the queue; the wording and the small decisions
live here so both processes say the same thing and unit tests can pin them:
the priority of a conversation, the summary an agent reads first, whether a
message asks to leave the queue, and the customer-facing texts.
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Iterable, List, Optional, Sequence, Tuple

from bot.pii import mask_pii

# Reasons (shown to agents) by the intent that led to the handoff.
REASON_BY_INTENT = {
    "request_human": "pedido do cliente",
    "report_no_connection": "cliente sem conexao",
    "report_slow_connection": "conexao lenta",
    "ask_outage": "possivel manutencao / queda na regiao",
    "request_trust_unlock": "desbloqueio (cliente bloqueado)",
    "request_cancellation": "cancelamento",
    "request_invoice": "fatura / pagamento",
    "inform_payment_done": "pagamento informado",
    "request_technical_visit": "visita tecnica",
    "nlu_fallback": "o bot nao entendeu",
    "out_of_scope": "o bot nao entendeu",
}
REASON_SYSTEM_FAILURE = "falha no sistema"
REASON_NOT_UNDERSTOOD = "o bot nao entendeu"
REASON_DEFAULT = "pedido do cliente"

# Higher first in the queue (bot.desk.model: 0..100).
PRIORITY_NORMAL = 10
_PRIORITY_BY_TOPIC = {
    "report_no_connection": 40, "no_connection": 40,
    "ask_outage": 40, "outage": 40,
    "request_trust_unlock": 50, "trust_unlock": 50,
    "report_slow_connection": 25, "slow_connection": 25,
    "request_cancellation": 30, "cancellation": 30,
}
PRIORITY_SYSTEM_FAILURE = 30
PRIORITY_BLOCKED_BONUS = 20

LEAVE_PAYLOAD = "/leave_queue"
LEAVE_BUTTON = {"title": "Voltar para o bot", "payload": LEAVE_PAYLOAD}
LEAVE_INTENT = "leave_queue"
LEAVE_CONFIDENCE = 0.6
# Said while waiting, these end the wait whatever the classifier thinks.
_LEAVE_PHRASES = (
    "cancelar atendimento", "cancela atendimento", "cancelar o atendimento",
    "cancela o atendimento", "voltar pro bot", "voltar para o bot", "volta pro bot",
    "voltar pro robo", "voltar para o robo", "sair da fila", "desistir da fila",
    "nao quero mais esperar", "nao quero mais atendente", "deixa pra la o atendente",
)

CSAT_INTENT = "rate_service"
CSAT_ENTITY = "csat_score"
CSAT_LABELS = {1: "1 - Pessimo", 2: "2 - Ruim", 3: "3 - Regular", 4: "4 - Bom", 5: "5 - Otimo"}


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", plain).split())


def wants_to_leave(text: Optional[str], intent: Optional[str] = None,
                   confidence: float = 0.0) -> bool:
    """Does a message sent while waiting (or with an agent) ask to go back to the bot?

    The ``Voltar para o bot`` button, the ``leave_queue`` intent with good
    confidence, or one of a few unambiguous phrases. "cancelar" alone is not
    enough: it usually means cancelling the contract.
    """
    if (text or "").strip() == LEAVE_PAYLOAD:
        return True
    if intent == LEAVE_INTENT and confidence >= LEAVE_CONFIDENCE:
        return True
    plain = _plain(text or "")
    return any(phrase in plain for phrase in _LEAVE_PHRASES)


def reason_for(intent: Optional[str], backend_failed: bool = False,
               fallbacks: int = 0) -> str:
    if backend_failed:
        return REASON_SYSTEM_FAILURE
    if fallbacks >= 2:
        return REASON_NOT_UNDERSTOOD
    return REASON_BY_INTENT.get(intent or "", REASON_DEFAULT)


def priority_for(topics: Iterable[Optional[str]], blocked: bool = False,
                 backend_failed: bool = False) -> int:
    """A customer without connection, blocked or in an outage goes first."""
    value = max([_PRIORITY_BY_TOPIC.get(topic or "", PRIORITY_NORMAL) for topic in topics]
                or [PRIORITY_NORMAL])
    if backend_failed:
        value = max(value, PRIORITY_SYSTEM_FAILURE)
    if blocked:
        value += PRIORITY_BLOCKED_BONUS
    return min(value, 100)


def summary_for(turns: Sequence[Tuple[str, str]], gathered: Sequence[Tuple[str, str]],
                reason: str, max_chars: int = 3500) -> str:
    """The note an agent reads before the transcript: the reason, what the
    customer said, what the bot answered, the data gathered, all masked.

    ``turns`` are ``(author, text)`` with author ``cliente`` or ``bot``;
    ``gathered`` are ``(label, value)`` already masked by the caller.
    """
    lines: List[str] = [f"Motivo: {reason}."]
    said = [mask_pii(text) for author, text in turns if author == "cliente" and text.strip()]
    if said:
        lines.append("Cliente disse: " + " | ".join(f'"{_short(text)}"' for text in said[-4:]))
    answered = [mask_pii(text) for author, text in turns if author == "bot" and text.strip()]
    if answered:
        lines.append("Bot respondeu por ultimo: " + " | ".join(_short(text) for text in answered[-3:]))
    if gathered:
        lines.append("Dados: " + "; ".join(f"{label}: {value}" for label, value in gathered))
    summary = "\n".join(lines)
    return summary if len(summary) <= max_chars else summary[: max_chars - 3] + "..."


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def wait_phrase(seconds: Optional[int]) -> str:
    """``menos de 1 minuto``, ``cerca de 5 minutos``, ``cerca de 1h20``."""
    if seconds is None:
        return "sem previsao"
    minutes = max(1, round(seconds / 60))
    if seconds < 60:
        return "menos de 1 minuto"
    if minutes < 60:
        return f"cerca de {minutes} minuto{'s' if minutes > 1 else ''}"
    hours, rest = divmod(minutes, 60)
    return f"cerca de {hours}h{rest:02d}" if rest else f"cerca de {hours}h"


def queued_text(position: int, wait_seconds: Optional[int], department: str = "") -> str:
    if position <= 1:
        where = "Voce e o proximo da fila"
    else:
        where = f"Voce esta na posicao {position} da fila"
    to = f"o setor {department}" if department else "um dos nossos atendentes"
    return (f"Certo, vou te passar para {to}. {where}, espera estimada: "
            f"{wait_phrase(wait_seconds)}. Pode continuar escrevendo por aqui: o atendente "
            "vai ver tudo. Se preferir, toque em \"Voltar para o bot\".")


def moved_text(department: str, position: int) -> str:
    where = "voce e o proximo da fila" if position <= 1 else f"voce esta na posicao {position} da fila"
    return f"Transferi seu atendimento para o setor {department}: {where}. E so aguardar por aqui."


def position_update_text(position: int, wait_seconds: Optional[int]) -> str:
    where = "Voce e o proximo da fila" if position <= 1 else f"Agora voce e o {position}o da fila"
    return f"{where}. Espera estimada: {wait_phrase(wait_seconds)}."


def closed_text(hours: str, next_opening: Optional[str], protocol: str,
                nobody_online: bool) -> str:
    why = ("Nossos atendentes estao todos offline agora" if nobody_online
           else "Nosso atendimento humano esta fechado agora")
    when = f" Voltamos {next_opening}." if next_opening else ""
    return (f"{why}. Horario de atendimento: {hours}.{when} Registrei seu pedido com o "
            f"protocolo {protocol} e voce continua na fila: um atendente responde por "
            "aqui assim que possivel.")


ALREADY_QUEUED_TEXT = "Voce ja esta na fila; um atendente responde por aqui assim que puder."
LEFT_QUEUE_TEXT = ("Tudo bem, cancelei o atendimento humano e voltei a te atender por aqui. "
                   "Como posso ajudar?")
CLOSED_BY_AGENT_TEXT = "Seu atendimento foi encerrado. Obrigado pelo contato!"
CSAT_QUESTION = "De 1 a 5, que nota voce da para este atendimento?"
CSAT_THANKS = "Obrigado pela avaliacao! Se precisar de algo mais, e so chamar por aqui."
CSAT_ALREADY = "Voce ja avaliou este atendimento, obrigado! Posso ajudar em algo mais?"
CSAT_NOTHING = "Nao encontrei um atendimento para avaliar agora. Posso ajudar em algo?"
CSAT_INVALID = "A nota vai de 1 a 5. Qual nota voce da para o atendimento?"


def csat_buttons() -> List[dict]:
    return [{"title": CSAT_LABELS[score],
             "payload": f"/{CSAT_INTENT}{json.dumps({CSAT_ENTITY: str(score)})}"}
            for score in (5, 4, 3, 2, 1)]


def csat_score(value: object, text: Optional[str] = None) -> Optional[int]:
    """A score 1-5 from the entity value, else from a message like ``nota 4``."""
    for candidate in (value, text):
        if candidate is None:
            continue
        match = re.search(r"(?<!\d)([1-5])(?!\d)", str(candidate))
        if match:
            return int(match.group(1))
    return None
