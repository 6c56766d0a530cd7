"""How amounts, dates and button payloads are written for customers."""
from __future__ import annotations

import json
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


def intent_payload(intent: str, **entities: object) -> str:
    """A button payload Rasa reads as ``intent`` with ``entities``: ``/intent{"k": "v"}``.

    Values come from the ERP (plan names, contract ids) and may hold quotes or
    braces, so the entities are JSON-encoded, never interpolated by hand.
    """
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(entities, ensure_ascii=False, separators=(", ", ": "))
