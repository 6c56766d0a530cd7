"""Opt-out of proactive messages: "SAIR", "PARAR", "cancelar mensagens" stop
notices and reminders for a number; "VOLTAR" turns them on again.

Stored per E.164 number in a Redis hash, every change appended to an audit
stream (who, what, when, through which channel), as LGPD asks of consent.
Answers to the customer's own messages are never blocked by an opt-out."""
from __future__ import annotations

import json
import re
import time
import unicodedata
from typing import Optional

from bot.phones import whatsapp_e164
from bot.redis_pool import redis_key

STOP, RESUME = "stop", "resume"
COMMANDS = {
    "sair": STOP, "parar": STOP, "pare": STOP, "stop": STOP, "cancelar mensagens": STOP,
    "cancelar avisos": STOP, "nao quero mais mensagens": STOP, "descadastrar": STOP,
    "voltar": RESUME, "quero voltar a receber": RESUME,
}
AUDIT_MAX_ENTRIES = 100_000
STOPPED_REPLY = ("Pronto, voce nao vai mais receber avisos nem lembretes por aqui. "
                 "Quando quiser voltar a receber, e so mandar VOLTAR.")
RESUMED_REPLY = "Pronto, voce volta a receber nossos avisos e lembretes por aqui. Para parar, mande SAIR."


def consent_command(text: str) -> Optional[str]:
    """STOP or RESUME when the whole message is one of the commands (any case,
    accents, punctuation), else None: "quero sair do plano" is not an opt-out."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", folded)).strip()
    return COMMANDS.get(folded)


class Consent:
    def __init__(self, redis) -> None:
        self.redis = redis
        self.key = redis_key("outreach", "optout")
        self.audit = redis_key("outreach", "optout", "audit")

    async def opted_out(self, number: str) -> bool:
        return bool(await self.redis.hexists(self.key, whatsapp_e164(number)))

    async def apply(self, number: str, command: str, source: str) -> None:
        """Record STOP or RESUME for ``number``; ``source`` says who asked (``whatsapp``, an agent)."""
        number = whatsapp_e164(number)
        entry = {"number": number, "command": command, "source": source, "at": round(time.time(), 3)}
        if command == STOP:
            await self.redis.hset(self.key, number, json.dumps(entry))
        else:
            await self.redis.hdel(self.key, number)
        await self.redis.xadd(self.audit, entry, maxlen=AUDIT_MAX_ENTRIES, approximate=True)
