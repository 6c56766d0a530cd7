"""Boleto barcodes and linhas digitaveis (bot/boleto.py) and the demo ERP's boletos."""
from __future__ import annotations

import sqlite3
from datetime import date

from bot.boleto import barcode, barcode_digits, line_from_barcode, valid_barcode
from bot.isp.demo_seed import SCHEMA, seed

# A real-world shaped example (Itau, R$ 139,90): its line and barcode agree.
CODE = barcode("341", "9873", "0000013990", "1090000013100000027000000")


def test_line_and_barcode_are_the_same_digits():
    line = line_from_barcode(CODE)
    assert valid_barcode(CODE) and len(line.replace(".", "").replace(" ", "")) == 47
    assert line.startswith("34191.0900") and line.endswith(" 98730000013990")
    assert barcode_digits(line) == CODE == barcode_digits(CODE)


def test_a_misread_digit_is_refused():
    line = line_from_barcode(CODE)
    wrong = line[:3] + str((int(line[3]) + 1) % 10) + line[4:]
    assert barcode_digits(wrong) is None
    assert barcode_digits(CODE[:10] + str((int(CODE[10]) + 1) % 10) + CODE[11:]) is None
    assert barcode_digits("1234") is None and barcode_digits("") is None


def test_the_demo_erp_prints_valid_boletos():
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.executescript(SCHEMA)
    seed(db, date(2026, 12, 6))
    lines = [row["barcode"] for row in db.execute("SELECT barcode FROM invoices")]
    assert lines and all(barcode_digits(line) for line in lines)
    assert len({barcode_digits(line) for line in lines}) == len(lines)
