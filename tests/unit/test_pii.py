import io
import logging

import pytest

from bot.pii import PiiMaskingFilter, install_log_masking, mask_pii


def test_masks_cpf_cnpj_phone_and_email():
    text = (
        "cpf 529.982.247-25 e 52998224725, cnpj 11.222.333/0001-81, "
        "zap (11) 98765-4321 / 5511987654321, mail joao.silva@gmail.com"
    )
    masked = mask_pii(text)
    for secret in ["529.982.247-25", "52998224725", "11.222.333/0001-81",
                   "98765-4321", "5511987654321", "joao.silva@gmail.com"]:
        assert secret not in masked
    assert "***.982.247-**" in masked
    assert "*******4321" in masked
    assert "j***@gmail.com" in masked


def test_leaves_ordinary_text_alone():
    text = "Plano de 500 mega por R$ 99,90, vencimento dia 10, protocolo 4839201"
    assert mask_pii(text) == text


def test_filter_masks_formatted_arguments(caplog):
    logger = logging.getLogger("test.pii")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(PiiMaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("received %s", "meu cpf 529.982.247-25")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "received meu cpf ***.982.247-**"


# -- what is personal is masked, nothing else -----------------------------------------


@pytest.mark.parametrize("secret", [
    "529.982.247-25", "52998224725", "529.982.247.25", "11.222.333/0001-81", "11222333000181",
    "(11) 98765-4321", "11 98765-4321", "11987654321", "5511987654321", "+55 11 98765-4321",
    "+5511987654321", "98765-4321", "987654321", "3333-4444", "(21) 3333-4444", "cpf=52998224725&x=1", "11.222.333/0001-00",
    "ana.souza@gmail.com", "/webhooks/rest/webhook?cpf=52998224725",
    # as Sanic logs a request URL: percent-encoded
    "?email=ana.souza%40gmail.com", "?tel=%2B5511987654321", "?cnpj=11.222.333%2F0001-81",
])
def test_personal_data_is_masked(secret):
    masked = mask_pii(f"cliente disse: {secret}.")
    digits = "".join(c for c in secret if c.isdigit())
    assert secret not in masked and "souza" not in masked
    assert not digits or digits not in "".join(c for c in masked if c.isdigit())


@pytest.mark.parametrize("text", [
    "Loading model models/isp-49838837c519.tar.gz",
    "model fingerprint 1a2b3c4d5e6f7a8b9c0d 49838837c519 a12345678901b",
    "sha256 5d41402abc4b2a76b9719d911017c592 d41d8cd98f00b204e9800998ecf8427e",
    "request id 12345678-1234-5678-9abc-123456789012 and 98765432-abcd-4ef0-8123-456789abcdef",
    '"timestamp": 1733330000.123456, "ts": 1764120000.5',
    "message id 1764120000000-0, after=1764120000000-12",
    "protocolo 20261204000123, protocolo 4839201, ticket 000123",
    "R$ 1.234,56 e R$ 119,90 e R$ 12.345.678,90",
    "2026-12-04T18:17:59.123456+00:00 took 0.98765432 s",
])
def test_hashes_ids_timestamps_protocols_and_amounts_are_left_alone(text):
    assert mask_pii(text) == text


# -- every logger, whatever its handler --------------------------------------------------


def test_record_factory_masks_a_logger_with_its_own_handler_and_no_filter():
    """Like Sanic's ``sanic.error``: its own handler, configured after ours."""
    previous = logging.getLogRecordFactory()
    logger = logging.getLogger("test.pii.own_handler")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(request)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_masking(logging.getLogger("test.pii.unrelated"))  # not this logger's handlers
        handler.filters.clear()
        try:
            raise ValueError("body had ana.souza@gmail.com")
        except ValueError:
            logger.exception("Exception occurred while handling uri: %r", "http://x/?cpf=529.982.247-25",
                             extra={"request": "GET http://x/?tel=11987654321"})
    finally:
        logging.setLogRecordFactory(previous)
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "Exception occurred while handling uri" in written and "ValueError" in written
    for secret in ("529.982.247-25", "ana.souza@gmail.com"):
        assert secret not in written
    assert "***.982.247-**" in written and "a***@gmail.com" in written


def test_the_filter_masks_extra_fields_added_after_the_record_was_made():
    record = logging.LogRecord("sanic.access", logging.INFO, "", 0, "", None, None)
    record.request = "GET http://x/?tel=11987654321"  # what makeRecord does with extra=
    PiiMaskingFilter().filter(record)
    assert "11987654321" not in record.request and record.request.startswith("GET http://x/?tel=")


def test_url_credentials_are_masked_in_log_lines():
    line = ("Exception occurred while handling uri: 'http://127.0.0.1:5005/conversations/x/tracker"
            "?token=s3cr3t-0123456789abcdef0123456789&include_events=ALL'")
    masked = mask_pii(line)
    assert "s3cr3t" not in masked
    assert "token=***&include_events=ALL" in masked
    assert mask_pii("/ws/chat/abc?token=eyJhbGciOi.x.y") == "/ws/chat/abc?token=***"
