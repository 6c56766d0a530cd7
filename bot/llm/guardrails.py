"""What may go to the model and what may come back to the customer.

In: personal data and payment codes are masked (:func:`mask_for_model`), the
customer's text is only ever data inside delimiters (``bot.llm.prompt``), and
obvious prompt-injection attempts never reach the model
(:func:`looks_like_injection`). Out: :func:`check_answer` rejects an answer
that repeats the system prompt (also spaced out, reversed or in base64),
carries encoded text, a link or personal/payment data the passages do not
contain, asks the customer for a password or code, or quotes a price the
passages do not contain; :func:`cap_length` keeps it WhatsApp-sized. We
assume the model obeys whatever it reads (tests/security/test_prompt_injection.py
uses such a stand-in): the answer checks are the guarantee, the prompt is not.
"""
from __future__ import annotations

import base64
import binascii
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


# Base64/hex-like runs: a customer-service answer never needs one.
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_LINK = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+|\]\(|!\[", re.IGNORECASE)
_PROMPT_PIECE = 40  # letters and digits in a row of the system prompt that reveal it


def _compact(text: str) -> str:
    """Letters and digits only, folded: spacing, punctuation and case do not hide a text."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def _decoded(blob: str) -> str:
    try:
        return base64.b64decode(blob + "=" * (-len(blob) % 4), altchars=b"-_").decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def repeats_prompt(answer: str, system_prompt: str) -> bool:
    """Runs of the system prompt in ``answer``: word shingles, or 40 letters in a
    row, also spaced out, reversed or base64-encoded."""
    if _shingles(answer) & _shingles(system_prompt):
        return True
    prompt = _compact(system_prompt)
    seen = _compact(answer + " " + " ".join(_decoded(b) for b in _BLOB.findall(answer)))
    step = _PROMPT_PIECE // 2
    return any(prompt[i:i + _PROMPT_PIECE] in haystack
               for i in range(0, max(len(prompt) - _PROMPT_PIECE, 0) + 1, step)
               for haystack in (seen, seen[::-1]))


def _unknown(text: str, passages: str) -> str:
    """``text`` without the words the passages contain (an address we publish is fine)."""
    return " ".join(w for w in text.split() if w.strip(".,;:!?()[]\"'") not in passages)


def check_answer(answer: str, system_prompt: str, passages: Iterable[str]) -> Optional[str]:
    """Why ``answer`` must not be sent (``None`` when it may)."""
    if not (answer or "").strip():
        return "empty"
    if repeats_prompt(answer, system_prompt):
        return "system_prompt_leak"
    passages = list(passages)
    joined = " ".join(passages)
    if _BLOB.search(_unknown(answer, joined)):
        return "encoded_text"
    if _LINK.search(_unknown(answer, joined)):
        return "unknown_link"
    unknown = _unknown(answer, joined)
    if mask_for_model(unknown) != unknown:
        return "personal_data"
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
