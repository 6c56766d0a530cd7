"""The embedded demo ERP: a real SQLite database, created and seeded on first use.

Fictional customers cover every contract state (active, blocked for debt,
speed reduced, cancelled), open/overdue/paid invoices, one outage and some
tickets. Writes persist: a trust unlock changes the contract, a ticket shows
up in ticket status. SQLite calls run in a worker thread (``asyncio.to_thread``)
so they never block the event loop.
"""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, List, Optional

from bot.isp.base import (
    AreaCustomer,
    DueInvoice,
    Lead,
    Address,
    BackendRejected,
    BackendUnavailable,
    ConnectionStatus,
    Contract,
    ContractStatus,
    Customer,
    Invoice,
    InvoiceStatus,
    IspBackend,
    Outage,
    Plan,
    Ticket,
    TicketStatus,
    TicketSubject,
    TrustUnlock,
)
from bot.isp.demo_seed import SCHEMA, seed
from bot.isp.settings import IspSettings
from bot.phones import phone_variants

TRUST_UNLOCK_DAYS = 3


def _pix_payload(invoice: Invoice) -> str:
    """A PIX copia-e-cola in the EMV format banks read (fictional key)."""
    amount = f"{invoice.amount:.2f}"
    body = (
        "000201"
        "26360014br.gov.bcb.pix0114demo@provedor"
        "52040000"
        "5303986"
        f"54{len(amount):02d}{amount}"
        "5802BR"
        "5913PROVEDOR DEMO"
        "6009SAO PAULO"
        f"62{len(invoice.id) + 4:02d}05{len(invoice.id):02d}{invoice.id}"
        "6304"
    )
    return body + _crc16(body)


def _crc16(data: str) -> str:
    crc = 0xFFFF
    for byte in data.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


class DemoBackend(IspBackend):
    def __init__(self, path: str, today: Optional[date] = None) -> None:
        self.path = Path(path)
        self._today = today
        self._lock = threading.Lock()
        self._connection: Optional[sqlite3.Connection] = None

    # -- plumbing -------------------------------------------------------------

    def today(self) -> date:
        return self._today or date.today()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)
            if connection.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 0:
                seed(connection, self.today())
            self._connection = connection
        return self._connection

    async def _run(self, function, *args: Any) -> Any:
        def locked():
            with self._lock:
                return function(self._db(), *args)

        try:
            return await asyncio.to_thread(locked)
        except (sqlite3.Error, OSError) as error:
            raise BackendUnavailable(f"demo database {self.path}: {error}") from error

    async def _rows(self, sql: str, *params: Any) -> List[sqlite3.Row]:
        return await self._run(lambda db: db.execute(sql, params).fetchall())

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- mapping --------------------------------------------------------------

    @staticmethod
    def _customer(row: sqlite3.Row) -> Customer:
        return Customer(
            id=str(row["id"]), name=row["name"], document=row["document"],
            phones=(row["phone"],) if row["phone"] else (), email=row["email"] or "",
        )

    @staticmethod
    def _contract(row: sqlite3.Row) -> Contract:
        return Contract(
            id=str(row["id"]), customer_id=str(row["customer_id"]), plan_name=row["plan_name"],
            status=ContractStatus(row["status"]),
            address=Address(row["street"], row["number"], row["neighbourhood"], row["city"],
                            row["state"], row["zip_code"]),
            due_day=row["due_day"],
        )

    def _invoice(self, row: sqlite3.Row) -> Invoice:
        due = date.fromisoformat(row["due_date"])
        status = InvoiceStatus(row["status"])
        if status is InvoiceStatus.OPEN and due < self.today():
            status = InvoiceStatus.OVERDUE
        return Invoice(
            id=str(row["id"]), contract_id=str(row["contract_id"]), due_date=due,
            amount=Decimal(row["amount"]), status=status, barcode=row["barcode"],
            pdf_url=row["pdf_url"],
        )

    @staticmethod
    def _ticket(row: sqlite3.Row) -> Ticket:
        return Ticket(
            protocol=row["protocol"], customer_id=str(row["customer_id"]),
            contract_id=str(row["contract_id"] or ""), subject=TicketSubject(row["subject"]),
            status=TicketStatus(row["status"]), description=row["description"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]) if row["updated_at"] else None,
            scheduled_for=datetime.fromisoformat(row["scheduled_for"]) if row["scheduled_for"] else None,
        )

    # -- IspBackend -----------------------------------------------------------

    async def find_customer_by_document(self, document: str) -> Optional[Customer]:
        rows = await self._rows("SELECT * FROM customers WHERE document = ?", document)
        return self._customer(rows[0]) if rows else None

    async def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        variants = phone_variants(phone)
        marks = ",".join("?" * len(variants))
        rows = await self._rows(f"SELECT * FROM customers WHERE phone IN ({marks})", *variants)
        return self._customer(rows[0]) if rows else None

    async def list_contracts(self, customer_id: str) -> List[Contract]:
        rows = await self._rows("SELECT * FROM contracts WHERE customer_id = ? ORDER BY id", customer_id)
        return [self._contract(row) for row in rows]

    async def list_open_invoices(self, contract_id: str) -> List[Invoice]:
        rows = await self._rows(
            "SELECT * FROM invoices WHERE contract_id = ? AND status = 'open' ORDER BY due_date",
            contract_id,
        )
        return [self._invoice(row) for row in rows]

    async def pix_code(self, invoice_id: str) -> str:
        rows = await self._rows("SELECT * FROM invoices WHERE id = ?", invoice_id)
        if not rows:
            raise BackendRejected(f"invoice {invoice_id} does not exist")
        return _pix_payload(self._invoice(rows[0]))

    async def connection_status(self, contract_id: str) -> ConnectionStatus:
        rows = await self._rows("SELECT * FROM contracts WHERE id = ?", contract_id)
        if not rows:
            raise BackendRejected(f"contract {contract_id} does not exist")
        row = rows[0]
        return ConnectionStatus(
            contract_id=contract_id, online=bool(row["online"]),
            last_seen=datetime.fromisoformat(row["last_seen"]) if row["last_seen"] else None,
            blocked=row["status"] == ContractStatus.BLOCKED_DEBT.value,
            speed_reduced=row["status"] == ContractStatus.SPEED_REDUCED.value,
        )

    async def outages_for(self, contract: Contract) -> List[Outage]:
        rows = await self._rows(
            "SELECT * FROM outages WHERE active = 1 AND lower(neighbourhood) = lower(?) "
            "AND lower(city) = lower(?)",
            contract.address.neighbourhood, contract.address.city,
        )
        return [
            Outage(id=str(r["id"]), neighbourhood=r["neighbourhood"], city=r["city"],
                   description=r["description"], started_at=datetime.fromisoformat(r["started_at"]),
                   forecast=datetime.fromisoformat(r["forecast"]) if r["forecast"] else None)
            for r in rows
        ]

    async def customers_in_area(self, neighbourhood: str, city: str) -> List[AreaCustomer]:
        rows = await self._rows(
            "SELECT cu.id AS customer_id, cu.name, cu.phone, min(co.id) AS contract_id "
            "FROM customers cu JOIN contracts co ON co.customer_id = cu.id "
            "WHERE co.status != 'cancelled' AND lower(co.neighbourhood) = lower(?) AND lower(co.city) = lower(?) "
            "GROUP BY cu.id ORDER BY cu.id",
            neighbourhood, city,
        )
        return [AreaCustomer(customer_id=str(r["customer_id"]), name=r["name"], phone=r["phone"] or "",
                             contract_id=str(r["contract_id"])) for r in rows]

    async def invoices_due_on(self, day: date) -> List[DueInvoice]:
        rows = await self._rows(
            "SELECT i.*, cu.id AS customer_id, cu.name AS customer_name, cu.phone AS customer_phone "
            "FROM invoices i JOIN contracts co ON co.id = i.contract_id JOIN customers cu ON cu.id = co.customer_id "
            "WHERE i.due_date = ? AND i.status = 'open' AND co.status != 'cancelled' ORDER BY i.id",
            day.isoformat(),
        )
        return [DueInvoice(invoice=self._invoice(r), customer_id=str(r["customer_id"]), name=r["customer_name"],
                           phone=r["customer_phone"] or "") for r in rows]

    async def trust_unlock(self, contract_id: str) -> TrustUnlock:
        today = self.today()

        def unlock(db: sqlite3.Connection) -> TrustUnlock:
            row = db.execute("SELECT * FROM contracts WHERE id = ?", (contract_id,)).fetchone()
            if row is None:
                raise BackendRejected(f"contract {contract_id} does not exist")
            if row["status"] == ContractStatus.ACTIVE.value:
                return TrustUnlock(False, reason="seu contrato nao esta bloqueado")
            if row["status"] == ContractStatus.CANCELLED.value:
                return TrustUnlock(False, reason="o contrato esta cancelado")
            last = row["last_trust_unlock"]
            if last and date.fromisoformat(last).strftime("%Y%m") == today.strftime("%Y%m"):
                return TrustUnlock(False, reason="o desbloqueio de confianca ja foi usado este mes")
            until = today + timedelta(days=TRUST_UNLOCK_DAYS)
            db.execute(
                "UPDATE contracts SET status = 'active', online = 1, last_trust_unlock = ?, "
                "unlocked_until = ? WHERE id = ?",
                (today.isoformat(), until.isoformat(), contract_id),
            )
            db.commit()
            return TrustUnlock(True, until=until)

        return await self._run(unlock)

    async def open_ticket(
        self, customer_id: str, contract_id: str, subject: TicketSubject, description: str
    ) -> Ticket:
        now = datetime.now().replace(microsecond=0)

        def insert(db: sqlite3.Connection) -> str:
            cursor = db.execute(
                "INSERT INTO tickets (protocol, customer_id, contract_id, subject, status, "
                "description, created_at) VALUES ('', ?, ?, ?, 'open', ?, ?)",
                (customer_id, contract_id or None, subject.value, description, now.isoformat()),
            )
            protocol = f"{now:%y%m%d}{cursor.lastrowid:06d}"
            db.execute("UPDATE tickets SET protocol = ? WHERE id = ?", (protocol, cursor.lastrowid))
            db.commit()
            return protocol

        protocol = await self._run(insert)
        return Ticket(protocol, customer_id, contract_id, subject, TicketStatus.OPEN, description, now)

    async def attach_to_ticket(self, protocol: str, filename: str, mime: str, data: bytes) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            if not db.execute("SELECT 1 FROM tickets WHERE protocol = ?", (protocol,)).fetchone():
                raise BackendRejected(f"no ticket {protocol}")
            db.execute("INSERT INTO ticket_files (protocol, filename, mime, data, created_at) VALUES (?, ?, ?, ?, ?)",
                       (protocol, filename, mime, data, datetime.now().replace(microsecond=0).isoformat()))
            db.commit()
            return True

        return await self._run(insert)

    async def ticket_by_protocol(self, protocol: str) -> Optional[Ticket]:
        rows = await self._rows("SELECT * FROM tickets WHERE protocol = ?", protocol)
        return self._ticket(rows[0]) if rows else None

    async def list_tickets(self, customer_id: str) -> List[Ticket]:
        rows = await self._rows(
            "SELECT * FROM tickets WHERE customer_id = ? ORDER BY created_at DESC, id DESC", customer_id
        )
        return [self._ticket(row) for row in rows]

    async def open_lead(self, lead: Lead) -> str:
        now = datetime.now().replace(microsecond=0)

        def insert(db: sqlite3.Connection) -> str:
            cursor = db.execute(
                "INSERT INTO leads (name, phone, address, plan, notes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (lead.name, lead.phone, lead.address, lead.plan, lead.notes, now.isoformat()),
            )
            protocol = f"{now:%y%m%d}9{cursor.lastrowid:05d}"  # 9: a sales lead, not a ticket
            db.execute("UPDATE leads SET protocol = ? WHERE id = ?", (protocol, cursor.lastrowid))
            db.commit()
            return protocol

        return await self._run(insert)

    async def list_plans(self) -> List[Plan]:
        rows = await self._rows("SELECT * FROM plans ORDER BY price + 0")
        return [
            Plan(id=str(r["id"]), name=r["name"], download_mbps=r["download_mbps"],
                 upload_mbps=r["upload_mbps"], price=Decimal(r["price"]), description=r["description"])
            for r in rows
        ]


def create_backend(settings: IspSettings) -> DemoBackend:
    """``ISP_DEMO_DB`` (default ``var/demo-isp.sqlite3``) holds the demo data."""
    return DemoBackend(settings.demo_db)
