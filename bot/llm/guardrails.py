"""What may go to the model and what may come back to the customer.

In: personal data and payment codes are masked (:func:`mask_for_model`), the
customer's text is only ever data inside delimiters (``bot.llm.prompt``), and
obvious prompt-injection attempts never reach the model
(:func:`looks_like_injection`). Out: :func:`check_answer` rejects an answer
that repeats the system prompt, asks the customer for a password or code,
or quotes a price the passages do not contain; :func:`cap_length` keeps it
WhatsApp-sized.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

from bot.llm.knowledge import fold
from bot.pii import mask_pii

# Boleto "linha digitavel" (47/48 digits) and bar codes (44), with or without
# dots and spaces: any run of 20+ digits broken only by separators.
_INVOICE_CODE = re.compile(r"(?<!\d)\d(?:[\s.\-]?\d){19,}(?!\d)")
# PIX "copia e cola" (EMV BR Code): starts 000201 and carries br.gov.bcb.pix.
_PIX_CODE = re.compile(r"\b000201\S{20,}|\S*br\.gov\.bcb\.pix\S*", re.IGNORECASE)
# Random PIX keys (EVP) are UUIDs.
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)

INVOICE_MASK = "[codigo da fatura]"
PIX_MASK = "[codigo PIX]"
KEY_MASK = "[chave]"


def mask_for_model(text: str) -> str:
    """``text`` with payment codes, CPF/CNPJ, phones and e-mails masked."""
    if not text:
        return text
    text = _PIX_CODE.sub(PIX_MASK, text)
    text = _UUID.sub(KEY_MASK, text)
    text = _INVOICE_CODE.sub(INVOICE_MASK, text)
    return mask_pii(text)


_INJECTION = re.compile(
    r"(ignor|esquec|desconsider|disregard|forget|override)\w*\s+(\w+\s+){0,4}"
    r"(instruc|regra|prompt|orienta|comando|instruction|rule|previous|anterior)"
    r"|(system|sistema)\s*prompt|prompt\s+(do\s+)?sistema"
    r"|(mostr|revel|repit|repet|imprim|show|reveal|print|repeat)\w*\s+(\w+\s+){0,4}"
    r"(instruc|prompt|regras|instruction)"
    r"|\besquec\w*\s+(tudo|o\s+que)|\b(jailbreak|modo\s+desenvolvedor|developer\s+mode|dan\s+mode)\b"
    r"|(voce|you)\s+(agora\s+)?(e|eh|is|are)\s+(agora\s+)?(um|uma|a|an|o)?\s*"
    r"(novo|nova|outro|outra|new|different)\b"
    r"|\bfinja\s+(que|ser)|\bpretend\s+(to|you)|\baja\s+como\b|\bact\s+as\b",
)


def looks_like_injection(text: str) -> bool:
    """A message trying to change the assistant's rules ("ignore as instrucoes...")."""
    return bool(_INJECTION.search(fold(text or "")))


_SECRET = re.compile(r"senha|password|codigo\s+(de\s+)?(verificacao|seguranca|sms)|\btoken\b|codigo\s+que\s+(chegou|recebeu)")
_SHARE = re.compile(r"\b(envi|mand|pass|inform|compartilh|fornec|diga|me\s+fal)\w*")
_NEGATION = re.compile(r"\b(nao|nunca|jamais|nem|ninguem|nenhum)\b")
_MONEY = re.compile(r"r\$\s*(\d{1,3}(?:\.\d{3})*(?:,\d{2})?)")
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


def _shingles(text: str, size: int = 6) -> set:
    tokens = re.findall(r"[a-z0-9]+", fold(text))
    return {" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)}


def asks_for_secret(text: str) -> bool:
    """A sentence asking the customer to share a password or security code."""
    for sentence in _SENTENCE.split(fold(text)):
        if _SECRET.search(sentence) and _SHARE.search(sentence) and not _NEGATION.search(sentence):
            return True
    return False


def check_answer(answer: str, system_prompt: str, passages: Iterable[str]) -> Optional[str]:
    """Why ``answer`` must not be sent (``None`` when it may)."""
    if not (answer or "").strip():
        return "empty"
    if _shingles(answer) & _shingles(system_prompt):
        return "system_prompt_leak"
    if asks_for_secret(answer):
        return "asks_for_secret"
    known = fold(" ".join(passages)).replace(" ", "")
    for amount in _MONEY.findall(fold(answer)):
        if amount not in known:
            return "unknown_price"
    return None


def cap_length(text: str, limit: int) -> str:
    """``text`` cut at the last sentence end within ``limit`` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
    return (cut[: end + 1] if end > limit // 3 else cut.rstrip() + "...").strip()
