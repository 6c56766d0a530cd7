"""The ISP backend (ERP) interface every adapter implements, and its data.

Actions talk only to :class:`IspBackend`; an adapter translates one ERP's API
(demo SQLite, IXC Provedor, ...) to these types. Amounts are ``Decimal``,
dates are ``date``/``datetime``, CPF/CNPJ and phones are digits only.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import List, Optional


class BackendError(Exception):
    """Any failure talking to the ERP; actions answer politely and offer a person."""


class BackendUnavailable(BackendError):
    """Timeout, connection error or 5xx after the bounded retries."""


class BackendRejected(BackendError):
    """The ERP answered with an error for this request (bad data, refused)."""


class ContractStatus(str, enum.Enum):
    ACTIVE = "active"
    BLOCKED_DEBT = "blocked_debt"  # cut for unpaid invoices
    SPEED_REDUCED = "speed_reduced"  # reduced for unpaid invoices
    CANCELLED = "cancelled"


class InvoiceStatus(str, enum.Enum):
    OPEN = "open"
    OVERDUE = "overdue"
    PAID = "paid"


class TicketStatus(str, enum.Enum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    SCHEDULED = "scheduled"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class TicketSubject(str, enum.Enum):
    NO_CONNECTION = "no_connection"
    SLOW_CONNECTION = "slow_connection"
    TECHNICAL_VISIT = "technical_visit"
    PLAN_CHANGE = "plan_change"
    ADDRESS_CHANGE = "address_change"
    CANCELLATION = "cancellation"
    DUE_DATE_CHANGE = "due_date_change"
    NEW_SERVICE = "new_service"
    WIFI_PASSWORD = "wifi_password"
    PAYMENT_RECEIPT = "payment_receipt"
    HUMAN_CONTACT = "human_contact"  # a person calls back (desk closed or nobody online)


@dataclass(frozen=True)
class Address:
    street: str
    number: str
    neighbourhood: str
    city: str
    state: str = ""
    zip_code: str = ""

    def short(self) -> str:
        return f"{self.street}, {self.number} - {self.neighbourhood}"


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    document: str  # CPF (11) or CNPJ (14) digits
    phones: tuple = ()
    email: str = ""

    @property
    def first_name(self) -> str:
        return self.name.split()[0].title() if self.name else ""


@dataclass(frozen=True)
class Contract:
    id: str
    customer_id: str
    plan_name: str
    status: ContractStatus
    address: Address
    due_day: int = 10


@dataclass(frozen=True)
class Invoice:
    id: str
    contract_id: str
    due_date: date
    amount: Decimal
    status: InvoiceStatus
    barcode: str = ""  # linha digitavel
    pdf_url: str = ""


@dataclass(frozen=True)
class ConnectionStatus:
    contract_id: str
    online: bool
    last_seen: Optional[datetime] = None
    blocked: bool = False
    speed_reduced: bool = False


@dataclass(frozen=True)
class Outage:
    id: str
    neighbourhood: str
    city: str
    description: str
    started_at: datetime
    forecast: Optional[datetime] = None


@dataclass(frozen=True)
class AreaCustomer:
    """A customer with a contract in an area, as an outage notice needs them."""

    customer_id: str
    name: str
    phone: str
    contract_id: str


@dataclass(frozen=True)
class DueInvoice:
    """An unpaid invoice with who to remind of it (billing reminders)."""

    invoice: "Invoice"
    customer_id: str
    name: str
    phone: str


@dataclass(frozen=True)
class TrustUnlock:
    allowed: bool
    until: Optional[date] = None  # None when the ERP does not say
    reason: str = ""  # why not, in words for the customer


@dataclass(frozen=True)
class Ticket:
    protocol: str
    customer_id: str
    contract_id: str
    subject: Optional[TicketSubject]  # None for ERP tickets not opened by the bot
    status: TicketStatus
    description: str
    created_at: datetime
    updated_at: Optional[datetime] = None
    scheduled_for: Optional[datetime] = None
    title: str = ""


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    download_mbps: int
    upload_mbps: int
    price: Decimal
    description: str = ""
    extras: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lead:
    """A prospect who wants the service: not a customer yet, so no contract."""

    name: str
    phone: str  # digits, with DDD (and country code when it came from WhatsApp)
    address: str  # as the prospect wrote it
    plan: str = ""  # the plan they asked about, if any
    notes: str = ""


class IspBackend(ABC):
    """What the assistant needs from a provider's ERP. All methods are async."""

    @abstractmethod
    async def find_customer_by_document(self, document: str) -> Optional[Customer]:
        """CPF/CNPJ digits; None when the provider has no such customer."""

    @abstractmethod
    async def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        """Phone digits with country code (5511987654321), with or without the 9th digit."""

    @abstractmethod
    async def list_contracts(self, customer_id: str) -> List[Contract]:
        """All contracts of the customer, cancelled ones included."""

    @abstractmethod
    async def list_open_invoices(self, contract_id: str) -> List[Invoice]:
        """Open and overdue invoices, oldest due date first."""

    @abstractmethod
    async def pix_code(self, invoice_id: str) -> str:
        """PIX copia-e-cola payload for the invoice."""

    @abstractmethod
    async def connection_status(self, contract_id: str) -> ConnectionStatus:
        """Whether the customer's equipment is online and when it was last seen."""

    @abstractmethod
    async def outages_for(self, contract: Contract) -> List[Outage]:
        """Active outages or maintenance affecting the contract's address."""

    async def customers_in_area(self, neighbourhood: str, city: str) -> List[AreaCustomer]:
        """Customers with a contract that is not cancelled at an address in the
        area, one entry per customer (outage notices). ERPs without such a
        query raise ``BackendRejected``, which the campaign reports."""
        raise BackendRejected(f"the {type(self).__name__} adapter cannot list customers by area")

    async def invoices_due_on(self, day: date) -> List[DueInvoice]:
        """Unpaid invoices falling due on ``day`` of contracts that are not
        cancelled (billing reminders). ERPs without such a query raise
        ``BackendRejected``, which the reminder run reports."""
        raise BackendRejected(f"the {type(self).__name__} adapter cannot list invoices by due date")

    @abstractmethod
    async def trust_unlock(self, contract_id: str) -> TrustUnlock:
        """Desbloqueio de confianca: unlock now if the rules allow it."""

    @abstractmethod
    async def open_ticket(
        self, customer_id: str, contract_id: str, subject: TicketSubject, description: str
    ) -> Ticket:
        """Open a ticket / service order; the result carries its protocol."""

    async def attach_to_ticket(self, protocol: str, filename: str, mime: str, data: bytes) -> bool:
        """Attach a file (a payment receipt) to a ticket; False when this ERP's API
        takes none: the ticket's description carries a link to the file instead."""
        return False

    @abstractmethod
    async def ticket_by_protocol(self, protocol: str) -> Optional[Ticket]:
        """A ticket by its protocol number."""

    @abstractmethod
    async def list_tickets(self, customer_id: str) -> List[Ticket]:
        """The customer's tickets, newest first."""

    @abstractmethod
    async def open_lead(self, lead: Lead) -> str:
        """Record a prospect for sales (coverage check, installation); returns a protocol."""

    @abstractmethod
    async def list_plans(self) -> List[Plan]:
        """Plans on sale, cheapest first."""

    async def close(self) -> None:
        """Release connections; adapters override when they hold any."""
