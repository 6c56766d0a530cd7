"""How amounts and dates are written to Brazilian customers."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal


def brl(amount: Decimal) -> str:
    """``Decimal("1234.5")`` -> ``R$ 1.234,50``."""
    text = f"{amount:,.2f}"  # 1,234.50
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def br_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def br_datetime(moment: datetime) -> str:
    return moment.strftime("%d/%m as %Hh%M")
