"""Masking of personal data (CPF, CNPJ, phone, e-mail) in text and log lines.

Only what is personal is masked: a run of digits glued to letters (a model
hash like ``isp-49838837c519``, a hex id), a float (a Unix timestamp such as
``1733330000.25``), a UUID group, an amount or a 13-digit message id is left
alone.

Every log record is masked when it is created, whatever logger made it and
whatever handler will write it (:func:`install_log_masking` sets a logging
record factory): Sanic configures its own ``sanic.error`` handler after our
``logging.yml``, so a filter on our handlers alone let its "Exception occurred
while handling uri" line through in clear. ``PiiMaskingFilter`` on every
handler also masks the ``extra`` fields a library adds after the record is
created (Sanic's access log puts the URL in ``request``).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

from bot.documents import is_valid_cnpj, mask_document

# No letter, digit or hyphen-joined hex around a number: hashes, ids and UUIDs are not documents.
_BEFORE = r"(?<![0-9A-Za-z-])"
_AFTER = r"(?![0-9A-Za-z])(?!-[0-9A-Fa-f])(?!\.\d)"

# "@", "/" and "+" may be percent-encoded: Sanic logs the request URL as sent.
# Credentials in logged URLs (Rasa's ``?token=``, JWTs in ``?token=`` of the
# WebSocket and socket.io): a log line is no place for a secret either.
_URL_SECRET = re.compile(r"(?i)\b(token|access_token|api_key|jwt)=([^&\s'\"]+)")
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*?(?:@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_CNPJ = re.compile(_BEFORE + r"\d{2}\.?\d{3}\.?\d{3}(?:/|%2[Ff])?\d{4}-?\d{2}" + _AFTER)
_CPF = re.compile(_BEFORE + r"\d{3}\.?\d{3}\.?\d{3}[-.]?\d{2}" + _AFTER)
# Brazilian phones: optional +55, optional area code, optional 9th digit.
_PHONE = re.compile(
    r"(?:(?<=%2B)|(?<=%2b)|(?<![0-9A-Za-z.-]))(?:\+?55[\s-]?)?(?:\(?\d{2}\)?[\s-]?)?9?\d{4}[\s-]?\d{4}" + _AFTER
)

# Attributes every LogRecord has; anything else was added through ``extra=``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_cnpj(match: re.Match) -> str:
    """A written CNPJ always; 14 bare digits only with valid check digits (a
    desk protocol, ``YYYYMMDD`` + 6 digits, has the same length)."""
    found = match.group()
    if found.isdigit() and not is_valid_cnpj(found):
        return found
    return mask_document(found)


def mask_pii(text: str) -> str:
    """Replace e-mails, CNPJs, CPFs, phone numbers and URL credentials in ``text`` by masks."""
    if not text:
        return text
    text = _URL_SECRET.sub(lambda m: f"{m.group(1)}=***", text)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _CNPJ.sub(_mask_cnpj, text)
    text = _CPF.sub(lambda m: mask_document(m.group()), text)
    return _PHONE.sub(_mask_phone, text)


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record's message, traceback, stack and ``extra`` strings in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: the handler reports it as usual
        return record
    record.msg = mask_pii(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_pii(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_pii(record.stack_info)
    for key, value in list(vars(record).items()):
        if key not in _STANDARD and isinstance(value, str):
            setattr(record, key, mask_pii(value))
    return record


class PiiMaskingFilter(logging.Filter):
    """Masks each record a handler writes (see :func:`mask_record`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class _MaskingRecordFactory:
    """Wraps the current record factory: every record is masked as it is made."""

    def __init__(self, wrapped: Callable[..., logging.LogRecord]):
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(self.wrapped(*args, **kwargs))


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Mask every record of the process (record factory), and add the filter to
    the handlers of ``logger`` (root by default) and of every logger known now."""
    if not isinstance(logging.getLogRecordFactory(), _MaskingRecordFactory):
        logging.setLogRecordFactory(_MaskingRecordFactory(logging.getLogRecordFactory()))
    loggers = [logger or logging.getLogger()]
    if logger is None:
        loggers += [item for item in logging.Logger.manager.loggerDict.values()
                    if isinstance(item, logging.Logger)]
    for each in loggers:
        for handler in each.handlers:
            if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
                handler.addFilter(PiiMaskingFilter())


def masking_filter() -> PiiMaskingFilter:
    """``logging.yml``'s filter factory: also installs the record factory, so
    ``rasa run`` and ``rasa run actions`` mask records of every logger."""
    install_log_masking()
    return PiiMaskingFilter()
