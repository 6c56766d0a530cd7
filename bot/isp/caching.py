"""A short read cache in front of any ERP adapter.

In one turn the identification form and the job action both need the customer
and their contracts; on IXC each listing can take a second. Caching those two
reads for a few seconds (``ISP_CACHE_SECONDS``, default 10, 0 turns it off)
halves the ERP traffic of a job turn. Writes through this process drop the
cached contracts, so a trust unlock is seen at once; another replica may see
the old state for at most the TTL.
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from bot.isp.base import (
    AreaCustomer, ConnectionStatus, DueInvoice, Contract, Customer, Invoice, IspBackend, Lead, Outage, Plan, Ticket,
    TicketSubject, TrustUnlock,
)

MAX_ENTRIES = 10_000


class CachingBackend(IspBackend):
    def __init__(self, inner: IspBackend, ttl_seconds: float) -> None:
        self.inner = inner
        self.ttl_seconds = ttl_seconds
        self._entries: Dict[Tuple[str, str], Tuple[float, Any]] = {}

    async def _cached(self, kind: str, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        hit = self._entries.get((kind, key))
        if hit and hit[0] > now:
            return hit[1]
        value = await load()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
        self._entries[(kind, key)] = (now + self.ttl_seconds, value)
        return value

    def _forget_contracts(self) -> None:
        self._entries = {k: v for k, v in self._entries.items() if k[0] != "contracts"}

    async def find_customer_by_document(self, document: str) -> Optional[Customer]:
        return await self._cached("customer", document,
                                  lambda: self.inner.find_customer_by_document(document))

    async def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        return await self.inner.find_customer_by_phone(phone)

    async def list_contracts(self, customer_id: str) -> List[Contract]:
        return await self._cached("contracts", customer_id, lambda: self.inner.list_contracts(customer_id))

    async def list_open_invoices(self, contract_id: str) -> List[Invoice]:
        return await self.inner.list_open_invoices(contract_id)

    async def pix_code(self, invoice_id: str) -> str:
        return await self.inner.pix_code(invoice_id)

    async def connection_status(self, contract_id: str) -> ConnectionStatus:
        return await self.inner.connection_status(contract_id)

    async def outages_for(self, contract: Contract) -> List[Outage]:
        return await self.inner.outages_for(contract)

    async def customers_in_area(self, neighbourhood: str, city: str) -> List[AreaCustomer]:
        return await self.inner.customers_in_area(neighbourhood, city)

    async def invoices_due_on(self, day: date) -> List[DueInvoice]:
        return await self.inner.invoices_due_on(day)

    async def trust_unlock(self, contract_id: str) -> TrustUnlock:
        try:
            return await self.inner.trust_unlock(contract_id)
        finally:
            self._forget_contracts()

    async def open_ticket(
        self, customer_id: str, contract_id: str, subject: TicketSubject, description: str
    ) -> Ticket:
        return await self.inner.open_ticket(customer_id, contract_id, subject, description)

    async def attach_to_ticket(self, protocol: str, filename: str, mime: str, data: bytes) -> bool:
        return await self.inner.attach_to_ticket(protocol, filename, mime, data)

    async def ticket_by_protocol(self, protocol: str) -> Optional[Ticket]:
        return await self.inner.ticket_by_protocol(protocol)

    async def list_tickets(self, customer_id: str) -> List[Ticket]:
        return await self.inner.list_tickets(customer_id)

    async def open_lead(self, lead: Lead) -> str:
        return await self.inner.open_lead(lead)

    async def list_plans(self) -> List[Plan]:
        return await self._cached("plans", "", self.inner.list_plans)

    async def close(self) -> None:
        await self.inner.close()
