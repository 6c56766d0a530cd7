"""Masking of personal data (CPF, CNPJ, phone, e-mail) in text and log lines.

``PiiMaskingFilter`` is attached to log handlers (``logging.yml`` for the
Rasa server, :func:`install_log_masking` for the action server) so that no
log line carries a customer's document, phone or e-mail in clear.
"""
from __future__ import annotations

import logging
import re

from bot.documents import mask_document

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_CNPJ = re.compile(r"(?<![\d])\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}(?![\d])")
_CPF = re.compile(r"(?<![\d])\d{3}\.?\d{3}\.?\d{3}[-.]?\d{2}(?![\d])")
# Brazilian phones: optional +55, optional area code, optional 9th digit.
_PHONE = re.compile(
    r"(?<![\d])(?:\+?55[\s-]?)?(?:\(?\d{2}\)?[\s-]?)?9?\d{4}[\s-]?\d{4}(?![\d])"
)


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_pii(text: str) -> str:
    """Replace e-mails, CNPJs, CPFs and phone numbers in ``text`` by masks."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _CNPJ.sub(lambda m: mask_document(m.group()), text)
    text = _CPF.sub(lambda m: mask_document(m.group()), text)
    return _PHONE.sub(_mask_phone, text)


class PiiMaskingFilter(logging.Filter):
    """Rewrites each record's message with :func:`mask_pii` before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        record.msg = mask_pii(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of ``logger`` (root by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())
