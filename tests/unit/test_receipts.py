"""Receipt readings parsed strictly and matched with open invoices (pure logic)."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.isp.base import Invoice, InvoiceStatus
from bot.media.vision import ImageReading, Receipt, parse_reading
from bot.receipts import AMOUNT, DATE, NO_INVOICE, UNREADABLE, ReceiptSettings, check_receipt

TODAY = date(2026, 12, 4)
SETTINGS = ReceiptSettings(amount_tolerance_percent=3.0, max_age_days=7)


def invoice(id_, amount, due, status=InvoiceStatus.OPEN):
    return Invoice(id_, "c1", due, Decimal(amount), status)


def receipt(amount="99.90", paid_on=TODAY):
    return Receipt(Decimal(amount) if amount else None, paid_on)


def test_a_models_reading_is_parsed_strictly():
    got = parse_reading('```json\n{"kind": "receipt", "description": "PIX", "amount": "R$ 1.234,56", '
                        '"paid_at": "04/12/2026", "payer": "Ana", "payer_document": "529.982.247-25", '
                        '"bank": "Nubank", "transaction_id": "E123"}\n```')
    assert got.kind == "receipt" and got.receipt == Receipt(Decimal("1234.56"), TODAY, "Ana", "52998224725",
                                                            "Nubank", "E123")
    assert parse_reading('{"kind": "receipt", "amount": -5, "paid_at": "2026-02-30"}').receipt.readable is False
    assert parse_reading('{"kind": "other", "description": "roteador"}') == ImageReading("other", "roteador")
    for bad in ('Claro! Vejo um comprovante.', '{"kind": "invoice"}', '[1]'):
        with pytest.raises(ValueError):
            parse_reading(bad)


def test_a_reading_survives_its_round_trip_through_redis_json():
    original = ImageReading("receipt", "PIX", Receipt(Decimal("10.00"), TODAY, "Ana", "1", "Inter", "E1"))
    assert ImageReading.from_dict(original.as_dict()) == original


def test_the_closest_amount_within_tolerance_wins_overdue_first_on_a_tie():
    invoices = [invoice("a", "99.90", TODAY - timedelta(days=40), InvoiceStatus.OVERDUE),
                invoice("b", "99.90", TODAY - timedelta(days=10), InvoiceStatus.OVERDUE),
                invoice("c", "149.90", TODAY + timedelta(days=20))]
    assert check_receipt(receipt("101.90"), invoices, TODAY, SETTINGS).invoice.id == "a"  # +2 %: the fine
    assert check_receipt(receipt("149.90"), invoices, TODAY, SETTINGS).invoice.id == "c"
    assert check_receipt(receipt("120.00"), invoices, TODAY, SETTINGS).problem == AMOUNT


@pytest.mark.parametrize("paid_on, problem", [
    (TODAY, None), (TODAY - timedelta(days=7), None), (TODAY + timedelta(days=1), None),
    (TODAY - timedelta(days=8), DATE), (TODAY + timedelta(days=2), DATE),
])
def test_the_payment_date_must_be_recent(paid_on, problem):
    check = check_receipt(receipt(paid_on=paid_on), [invoice("a", "99.90", TODAY)], TODAY, SETTINGS)
    assert check.problem == problem and (check.invoice is None) == bool(problem)


def test_nothing_to_match_says_why():
    assert check_receipt(None, [invoice("a", "1", TODAY)], TODAY, SETTINGS).problem == UNREADABLE
    assert check_receipt(receipt(amount=None), [invoice("a", "1", TODAY)], TODAY, SETTINGS).problem == UNREADABLE
    assert check_receipt(receipt(), [], TODAY, SETTINGS).problem == NO_INVOICE
