"""IXCSoft "IXC Provedor" webservice v1, the most common ERP of Brazilian ISPs.

Wire format (docs/ixc-webservice.md): HTTP Basic ``user_id:token``; a listing
is a POST with header ``ixcsoft: listar`` and a JSON body (``qtype``,
``query``, ``oper``, ``rp``, ``grid_param``); every value comes back as a
string; errors come back with HTTP 200 as ``{"type": "error", "message"}``
(``{"tipo": "erro", "codigo", "mensagem"}`` for the trust unlock). CPF/CNPJ
and phones are stored formatted, so searches use the formatted value.

IXC has no webservice resource for area outages, so ``outages_for`` returns
none; the plans on sale come from ``vd_contratos`` (field names unconfirmed).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Iterable, List, Optional, Tuple

import httpx

from bot.documents import only_digits
from bot.isp.base import (
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
from bot.isp.settings import IspSettings, IxcSettings
from bot.phones import phone_variants

logger = logging.getLogger(__name__)

BLOCKED_INTERNET = {"CM", "CA", "FA"}  # manual, automatic, overdue
CLOSED_CONTRACT = {"I", "D"}  # inactive, gave up
TICKET_STATUS = {
    "N": TicketStatus.OPEN, "P": TicketStatus.OPEN, "EP": TicketStatus.IN_PROGRESS,
    "AG": TicketStatus.SCHEDULED, "S": TicketStatus.RESOLVED, "C": TicketStatus.CANCELLED,
}
TRUST_UNLOCK_REFUSALS = {
    "109": "o desbloqueio de confianca nao esta disponivel para o seu contrato agora",
}


def format_document(digits: str) -> str:
    """IXC stores ``529.982.247-25`` / ``11.222.333/0001-81``."""
    if len(digits) == 11:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


def _date(value: str) -> Optional[date]:
    try:
        return date.fromisoformat(value[:10]) if value and not value.startswith("0000") else None
    except ValueError:
        return None


def _datetime(value: str) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(value) if value and not value.startswith("0000") else None
    except ValueError:
        return None


def _speed_mbps(plan_name: str) -> int:
    """IXC has no speed field on plans; "FIBRA 1 GIGA" -> 1000, "500 MEGA" -> 500."""
    match = re.search(r"(\d+)\s*(mega|mb|giga|gb)", plan_name, re.I)
    if not match:
        return 0
    return int(match.group(1)) * (1000 if match.group(2).lower() in ("giga", "gb") else 1)


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value or "0")
    except InvalidOperation:
        raise BackendRejected(f"IXC returned a non-numeric amount {value!r}") from None


class IxcBackend(IspBackend):
    def __init__(
        self,
        base_url: str,
        user_id: str,
        token: str,
        timeout: float = 5.0,
        retries: int = 2,
        ticket_subject_id: str = "1",
        ticket_sector_id: str = "1",
        today: Optional[date] = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/webservice/v1/",
            auth=(user_id, token),
            timeout=timeout,
        )
        self.retries = retries
        self.ticket_subject_id = ticket_subject_id
        self.ticket_sector_id = ticket_sector_id
        self._today = today

    async def close(self) -> None:
        await self._client.aclose()

    # -- wire -------------------------------------------------------------------

    async def _post(self, resource: str, body: Dict[str, Any], listing: bool = False) -> httpx.Response:
        """POST with a bounded retry on connection errors, timeouts and 5xx."""
        headers = {"ixcsoft": "listar"} if listing else {}
        failure = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
            try:
                response = await self._client.post(resource, json=body, headers=headers)
            except httpx.TimeoutException:
                failure = f"timeout calling IXC {resource}"
                continue
            except httpx.TransportError as error:
                failure = f"cannot reach IXC ({type(error).__name__}) calling {resource}"
                continue
            if response.status_code >= 500:
                failure = f"IXC {resource} answered HTTP {response.status_code}"
                continue
            if response.status_code in (401, 403):
                raise BackendRejected(f"IXC refused the credentials (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise BackendRejected(f"IXC {resource} answered HTTP {response.status_code}")
            return response
        raise BackendUnavailable(failure)

    @staticmethod
    def _json(response: httpx.Response, resource: str) -> Dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise BackendRejected(f"IXC {resource} did not answer JSON") from None
        if not isinstance(data, dict):
            raise BackendRejected(f"IXC {resource} answered {type(data).__name__}, not an object")
        if data.get("type") == "error":
            raise BackendRejected(f"IXC {resource}: {data.get('message', 'error')}")
        return data

    async def _list(
        self,
        table: str,
        field: str,
        value: str,
        oper: str = "=",
        where: Iterable[Tuple[str, str, str]] = (),
        sort: str = "id",
        order: str = "asc",
        rows: int = 100,
    ) -> List[Dict[str, str]]:
        body = {
            "qtype": f"{table}.{field}", "query": value, "oper": oper,
            "page": "1", "rp": str(rows), "sortname": f"{table}.{sort}", "sortorder": order,
        }
        grid = [{"TB": f"{table}.{f}", "OP": op, "P": p} for f, op, p in where]
        if grid:
            body["grid_param"] = json.dumps(grid)
        data = self._json(await self._post(table, body, listing=True), table)
        return data.get("registros") or []

    def today(self) -> date:
        return self._today or date.today()

    # -- mapping ------------------------------------------------------------------

    @staticmethod
    def _customer(row: Dict[str, str]) -> Customer:
        phones = tuple(
            phone_variants(row[f])[0] for f in ("telefone_celular", "whatsapp", "fone") if row.get(f)
        )
        return Customer(
            id=row["id"], name=row.get("razao") or row.get("fantasia", ""),
            document=only_digits(row.get("cnpj_cpf", "")), phones=phones,
            email=row.get("email", ""),
        )

    @staticmethod
    def _contract(row: Dict[str, str]) -> Contract:
        if row.get("status") in CLOSED_CONTRACT:
            status = ContractStatus.CANCELLED
        elif row.get("status_internet") in BLOCKED_INTERNET:
            status = ContractStatus.BLOCKED_DEBT
        elif row.get("status_velocidade") == "R":  # reduced; value unconfirmed
            status = ContractStatus.SPEED_REDUCED
        else:
            status = ContractStatus.ACTIVE
        return Contract(
            id=row["id"], customer_id=row.get("id_cliente", ""),
            plan_name=row.get("contrato", ""), status=status,
            address=Address(row.get("endereco", ""), row.get("numero", ""), row.get("bairro", ""),
                            row.get("cidade", ""), zip_code=row.get("cep", "")),
        )

    def _invoice(self, row: Dict[str, str], contract_id: str) -> Invoice:
        due = _date(row.get("data_vencimento", "")) or self.today()
        return Invoice(
            id=row["id"], contract_id=contract_id, due_date=due,
            amount=_decimal(row.get("valor_aberto") or row.get("valor", "0")),
            status=InvoiceStatus.OVERDUE if due < self.today() else InvoiceStatus.OPEN,
            barcode=row.get("linha_digitavel", ""), pdf_url=row.get("gateway_link", ""),
        )

    @staticmethod
    def _ticket(row: Dict[str, str]) -> Ticket:
        return Ticket(
            protocol=row.get("protocolo") or row["id"], customer_id=row.get("id_cliente", ""),
            contract_id=row.get("id_contrato", ""), subject=None,
            status=TICKET_STATUS.get(row.get("su_status", ""), TicketStatus.OPEN),
            description=row.get("menssagem", ""),
            created_at=_datetime(row.get("data_criacao", "")) or datetime.now(),
            updated_at=_datetime(row.get("ultima_atualizacao", "")),
            title=row.get("titulo", ""),
        )

    # -- IspBackend -------------------------------------------------------------

    async def find_customer_by_document(self, document: str) -> Optional[Customer]:
        rows = await self._list("cliente", "cnpj_cpf", format_document(only_digits(document)))
        return self._customer(rows[0]) if rows else None

    async def find_customer_by_phone(self, phone: str) -> Optional[Customer]:
        wanted = set(phone_variants(phone))
        last8 = only_digits(phone)[-8:]
        # stored formatted, "(11) 98765-4321": search the last digits, compare them all
        for field in ("whatsapp", "telefone_celular"):
            for row in await self._list("cliente", field, f"{last8[:4]}-{last8[4:]}", oper="L"):
                if wanted & set(phone_variants(row.get(field, ""))):
                    return self._customer(row)
        return None

    async def list_contracts(self, customer_id: str) -> List[Contract]:
        return [self._contract(r) for r in await self._list("cliente_contrato", "id_cliente", customer_id)]

    async def list_open_invoices(self, contract_id: str) -> List[Invoice]:
        open_filter = [("liberado", "=", "S"), ("status", "!=", "C"), ("status", "!=", "R")]
        rows: Dict[str, Dict[str, str]] = {}
        for field in ("id_contrato", "id_contrato_avulso"):  # IXC fills one or the other
            for row in await self._list("fn_areceber", field, contract_id, where=open_filter,
                                        sort="data_vencimento"):
                rows[row["id"]] = row
        invoices = [self._invoice(row, contract_id) for row in rows.values()]
        return sorted(invoices, key=lambda invoice: invoice.due_date)

    async def pix_code(self, invoice_id: str) -> str:
        data = self._json(await self._post("get_pix", {"id_areceber": invoice_id}), "get_pix")
        pix = data.get("pix") or {}
        code = (pix.get("qrCode") or {}).get("qrcode") or (pix.get("dadosPix") or {}).get("pixCopiaECola")
        if not code:
            raise BackendRejected(f"IXC get_pix gave no PIX code for invoice {invoice_id}")
        return code

    async def connection_status(self, contract_id: str) -> ConnectionStatus:
        contracts = await self._list("cliente_contrato", "id", contract_id)
        if not contracts:
            raise BackendRejected(f"IXC has no contract {contract_id}")
        contract = self._contract(contracts[0])
        logins = await self._list("radusuarios", "id_contrato", contract_id)
        online = any(row.get("online") in ("S", "SS") for row in logins)
        last_seen = max(
            (d for d in (_datetime(r.get("ultima_conexao_final", "")) for r in logins) if d),
            default=None,
        )
        return ConnectionStatus(
            contract_id=contract_id, online=online, last_seen=last_seen,
            blocked=contract.status is ContractStatus.BLOCKED_DEBT,
            speed_reduced=contract.status is ContractStatus.SPEED_REDUCED,
        )

    async def outages_for(self, contract: Contract) -> List[Outage]:
        return []

    async def trust_unlock(self, contract_id: str) -> TrustUnlock:
        response = await self._post("desbloqueio_confianca", {"id": contract_id})
        try:
            data = response.json()
        except ValueError:
            raise BackendRejected("IXC desbloqueio_confianca did not answer JSON") from None
        code = str(data.get("codigo", ""))
        if data.get("tipo") == "sucesso" or code == "107":  # 107: already unlocked
            return TrustUnlock(True)
        if code == "106":
            raise BackendRejected(f"IXC has no contract {contract_id}")
        reason = TRUST_UNLOCK_REFUSALS.get(code) or (data.get("mensagem") or "o sistema recusou").strip().rstrip(".!")
        return TrustUnlock(False, reason=reason)

    async def open_ticket(
        self, customer_id: str, contract_id: str, subject: TicketSubject, description: str
    ) -> Ticket:
        title = f"Assistente virtual: {subject.value.replace('_', ' ')}"
        body = {
            "tipo": "C", "id_cliente": customer_id, "id_contrato": contract_id,
            "id_assunto": self.ticket_subject_id, "id_ticket_setor": self.ticket_sector_id,
            "titulo": title, "menssagem": description, "su_status": "N", "status": "T",
            "prioridade": "M", "id_ticket_origem": "I", "origem_endereco": "CC",
        }
        created = self._json(await self._post("su_ticket", body), "su_ticket")
        ticket_id = str(created.get("id") or "")
        if not ticket_id:
            raise BackendRejected("IXC su_ticket insert answered without an id")
        rows = await self._list("su_ticket", "id", ticket_id)
        ticket = self._ticket(rows[0]) if rows else None
        return Ticket(
            protocol=ticket.protocol if ticket else ticket_id, customer_id=customer_id,
            contract_id=contract_id, subject=subject, status=TicketStatus.OPEN,
            description=description, created_at=ticket.created_at if ticket else datetime.now(),
            title=title,
        )

    async def ticket_by_protocol(self, protocol: str) -> Optional[Ticket]:
        rows = await self._list("su_ticket", "protocolo", protocol)
        return self._ticket(rows[0]) if rows else None

    async def list_tickets(self, customer_id: str) -> List[Ticket]:
        rows = await self._list("su_ticket", "id_cliente", customer_id, sort="id", order="desc", rows=20)
        return [self._ticket(row) for row in rows]

    async def open_lead(self, lead: Lead) -> str:
        """A prospect goes to IXC's CRM as a ``contato`` (lead); its id is the protocol."""
        body = {
            "nome": lead.name, "razao": lead.name, "tipo_pessoa": "F", "fone_celular": lead.phone,
            "endereco": lead.address, "data_cadastro": date.today().isoformat(),
            "obs": " ".join(part for part in (f"Plano: {lead.plan}." if lead.plan else "", lead.notes,
                                               "Cadastro pelo assistente virtual.") if part),
        }
        created = self._json(await self._post("contato", body), "contato")
        lead_id = str(created.get("id") or "")
        if not lead_id:
            raise BackendRejected("IXC contato insert answered without an id")
        return lead_id

    async def list_plans(self) -> List[Plan]:
        rows = await self._list("vd_contratos", "ativo", "S", sort="valor_contrato")
        plans = [
            Plan(id=row["id"], name=row.get("nome", ""), download_mbps=_speed_mbps(row.get("nome", "")),
                 upload_mbps=_speed_mbps(row.get("nome", "")) // 2,
                 price=_decimal(row.get("valor_contrato", "0")), description=row.get("descricao", ""))
            for row in rows
        ]
        return sorted(plans, key=lambda plan: plan.price)


def create_backend(settings: IspSettings) -> IxcBackend:
    """``IXC_URL``, ``IXC_USER_ID``, ``IXC_TOKEN`` (required); timeouts and ticket ids optional."""
    ixc = IxcSettings.from_env()
    return IxcBackend(
        ixc.url, ixc.user_id, ixc.token,
        timeout=ixc.timeout_seconds,
        ticket_subject_id=ixc.ticket_subject_id,
        ticket_sector_id=ixc.ticket_sector_id,
    )
