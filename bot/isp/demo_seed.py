"""Schema and fictional data of the demo ERP (see bot/isp/demo.py).

The named customers below are the ones the README and the tests talk about;
``_generated`` adds a few dozen more, deterministic, with valid CPFs.
"""
from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta

from bot.boleto import barcode, line_from_barcode

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, document TEXT NOT NULL UNIQUE,
    phone TEXT, email TEXT);
CREATE TABLE IF NOT EXISTS plans (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, download_mbps INTEGER, upload_mbps INTEGER,
    price TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS contracts (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
    plan_name TEXT NOT NULL, status TEXT NOT NULL, street TEXT, number TEXT,
    neighbourhood TEXT, city TEXT, state TEXT, zip_code TEXT, due_day INTEGER,
    online INTEGER NOT NULL DEFAULT 1, last_seen TEXT, last_trust_unlock TEXT, unlocked_until TEXT);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY, contract_id INTEGER NOT NULL REFERENCES contracts(id),
    due_date TEXT NOT NULL, amount TEXT NOT NULL, status TEXT NOT NULL,
    barcode TEXT, pdf_url TEXT);
CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY, neighbourhood TEXT, city TEXT, description TEXT,
    started_at TEXT, forecast TEXT, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY, protocol TEXT NOT NULL, customer_id INTEGER NOT NULL,
    contract_id INTEGER, subject TEXT NOT NULL, status TEXT NOT NULL, description TEXT,
    created_at TEXT NOT NULL, updated_at TEXT, scheduled_for TEXT);
CREATE INDEX IF NOT EXISTS tickets_protocol ON tickets(protocol);
CREATE TABLE IF NOT EXISTS ticket_files (
    id INTEGER PRIMARY KEY, protocol TEXT NOT NULL, filename TEXT NOT NULL, mime TEXT NOT NULL,
    data BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY, protocol TEXT, name TEXT NOT NULL, phone TEXT NOT NULL,
    address TEXT NOT NULL, plan TEXT, notes TEXT, created_at TEXT NOT NULL);
"""

PLANS = [
    (1, "Fibra 300 Mega", 300, 150, "99.90", "Wi-Fi 5 incluso, instalacao gratis"),
    (2, "Fibra 500 Mega", 500, 250, "119.90", "Wi-Fi 6 incluso, instalacao gratis"),
    (3, "Fibra 700 Mega", 700, 350, "139.90", "Wi-Fi 6 + repetidor mesh"),
    (4, "Fibra 1 Giga", 1000, 500, "179.90", "Wi-Fi 6 + 2 repetidores mesh, IP fixo opcional"),
]

# (name, document, phone, email, contracts: [(plan, status, neighbourhood, online)], invoices per contract)
NAMED_CUSTOMERS = [
    ("Maria Aparecida da Silva", "52998224725", "5511987650001", "maria.silva@example.com",
     [("Fibra 500 Mega", "active", "Vila Nova", 1)]),
    ("Joao Carlos Souza", "11144477735", "5511987650002", "joao.souza@example.com",
     [("Fibra 300 Mega", "blocked_debt", "Jardim America", 0)]),
    ("Ana Paula Costa", "39053344705", "5511987650003", "ana.costa@example.com",
     [("Fibra 700 Mega", "speed_reduced", "Vila Nova", 1)]),
    ("Padaria Pao Quente LTDA", "11222333000181", "5511987650004", "contato@paoquente.example.com",
     [("Fibra 1 Giga", "active", "Centro", 0), ("Fibra 300 Mega", "active", "Vila Nova", 1)]),
    ("Carlos Eduardo Pereira", "98765432100", "5511987650005", "",
     [("Fibra 300 Mega", "cancelled", "Vila Nova", 0)]),
]

NEIGHBOURHOODS = ["Vila Nova", "Jardim America", "Centro", "Bela Vista", "Santa Cecilia"]
FIRST = ["Jose", "Francisca", "Antonio", "Adriana", "Paulo", "Juliana", "Lucas", "Marcia",
         "Pedro", "Fernanda", "Rafael", "Patricia", "Bruno", "Aline", "Marcos", "Camila"]
LAST = ["Santos", "Oliveira", "Lima", "Gomes", "Ribeiro", "Carvalho", "Almeida", "Rocha",
        "Martins", "Barbosa", "Araujo", "Melo"]


def cpf_with_check_digits(nine: str) -> str:
    digits = [int(d) for d in nine]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1)))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def _barcode(contract_id: int, invoice_id: int, amount: str, due: date) -> str:
    """A valid Itau-shaped linha digitavel (check digits hold: a photo of it reads back)."""
    cents = amount.replace(".", "").zfill(10)
    factor = (due - date(2022, 5, 29)).days + 1000
    free = f"109{invoice_id:08d}{contract_id:08d}000000"
    return line_from_barcode(barcode("341", f"{factor:04d}", cents, free))


def _generated(rng: random.Random):
    for index in range(30):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        cpf = cpf_with_check_digits(f"{rng.randrange(10**8, 10**9):09d}")
        status = rng.choice(["active"] * 6 + ["blocked_debt", "speed_reduced", "cancelled"])
        plan = rng.choice(PLANS)[1]
        yield (name, cpf, f"55119876{51000 + index:05d}", "",
               [(plan, status, rng.choice(NEIGHBOURHOODS), int(status == "active"))])


def generated_customers() -> list:
    """The generated customers exactly as :func:`seed` creates them (tests pick
    customers nobody else's conversation touches among them)."""
    return list(_generated(random.Random(2026)))


def seed(db: sqlite3.Connection, today: date) -> None:
    """Fill an empty database; invoices and outages are dated relative to today."""
    rng = random.Random(2026)
    now = datetime.combine(today, datetime.min.time()).replace(hour=9)
    started = datetime.now().replace(second=0, microsecond=0)
    db.executemany("INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?)", PLANS)
    prices = {name: price for _, name, _, _, price, _ in PLANS}
    customers = NAMED_CUSTOMERS + list(_generated(rng))
    for name, document, phone, email, contracts in customers:
        if db.execute("SELECT 1 FROM customers WHERE document = ?", (document,)).fetchone():
            continue
        customer_id = db.execute(
            "INSERT INTO customers (name, document, phone, email) VALUES (?, ?, ?, ?)",
            (name, document, phone, email),
        ).lastrowid
        for plan, status, neighbourhood, online in contracts:
            contract_id = db.execute(
                "INSERT INTO contracts (customer_id, plan_name, status, street, number, "
                "neighbourhood, city, state, zip_code, due_day, online, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, 'Sao Paulo', 'SP', ?, 10, ?, ?)",
                (customer_id, plan, status, "Rua das Flores", str(rng.randrange(10, 999)),
                 neighbourhood, f"0{rng.randrange(1000, 9999)}-000", online,
                 (now - timedelta(hours=0 if online else 20)).isoformat()),
            ).lastrowid
            _invoices(db, contract_id, status, prices[plan], today)
    db.execute(
        "INSERT INTO outages (neighbourhood, city, description, started_at, forecast) "
        "VALUES ('Centro', 'Sao Paulo', 'rompimento de fibra na rede principal', ?, ?)",
        ((started - timedelta(hours=2)).isoformat(), (started + timedelta(hours=4)).isoformat()),
    )
    db.commit()


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=10)


def _invoices(db: sqlite3.Connection, contract_id: int, status: str, price: str, today: date):
    """Four months of invoices due on the 10th: paid when past due, except that
    blocked and speed-reduced contracts owe the last two; the next one is open."""
    for offset in (-3, -2, -1, 0, 1):
        due = _add_months(today, offset)
        if status == "cancelled":
            if offset > 0:
                continue
            state = "paid"
        elif status in ("blocked_debt", "speed_reduced") and offset in (-1, 0):
            state = "open"
        else:
            state = "paid" if due < today else "open"
        invoice_id = db.execute(
            "INSERT INTO invoices (contract_id, due_date, amount, status, barcode, pdf_url) "
            "VALUES (?, ?, ?, ?, '', '')",
            (contract_id, due.isoformat(), price, state),
        ).lastrowid
        db.execute(
            "UPDATE invoices SET barcode = ?, pdf_url = ? WHERE id = ?",
            (_barcode(contract_id, invoice_id, price, due),
             f"https://boletos.provedor-demo.example/{invoice_id}.pdf", invoice_id),
        )
