from datetime import date
from decimal import Decimal

from bot.formatting import br_date, brl
from bot.phones import phone_variants


def test_brazilian_money_and_dates():
    assert brl(Decimal("1234.5")) == "R$ 1.234,50"
    assert brl(Decimal("99.90")) == "R$ 99,90"
    assert br_date(date(2026, 1, 5)) == "05/01/2026"


def test_mobile_numbers_with_and_without_the_ninth_digit():
    assert phone_variants("5511987654321") == ["5511987654321", "551187654321"]
    assert phone_variants("551187654321") == ["551187654321", "5511987654321"]
    assert phone_variants("(11) 98765-4321") == ["5511987654321", "551187654321"]
    assert phone_variants("551133334444") == ["551133334444"]  # landline stays as is
