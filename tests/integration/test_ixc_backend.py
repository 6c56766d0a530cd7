"""The IXC adapter against a local server that speaks IXC's wire format."""
import asyncio
import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from bot.isp import create_backend
from bot.isp.base import (
    BackendRejected,
    Lead,
    BackendUnavailable,
    ContractStatus,
    InvoiceStatus,
    TicketStatus,
    TicketSubject,
)
from bot.isp.ixc import IxcBackend
from testing.fakes.ixc_server import TOKEN, USER, FakeIxc

TODAY = date(2026, 11, 25)


@pytest.fixture
def ixc():
    with FakeIxc() as server:
        yield server


def call(server, method, *args, **options):
    async def go():
        backend = IxcBackend(server.url, USER, options.pop("token", TOKEN), today=TODAY, **options)
        try:
            return await getattr(backend, method)(*args)
        finally:
            await backend.close()
    return asyncio.run(go())


def test_listing_uses_basic_auth_the_listar_header_and_formatted_cpf(ixc):
    customer = call(ixc, "find_customer_by_document", "52998224725")
    assert (customer.id, customer.document, customer.first_name) == ("6", "52998224725", "Maria")
    request = ixc.requests[-1]
    assert request["headers"]["ixcsoft"] == "listar"
    assert json.loads(request["body"])["query"] == "529.982.247-25"
    assert call(ixc, "find_customer_by_document", "39053344705") is None  # no "registros" key


def test_phone_search_matches_with_and_without_the_ninth_digit(ixc):
    assert call(ixc, "find_customer_by_phone", "5511987650001").id == "6"
    assert call(ixc, "find_customer_by_phone", "551187650001").id == "6"
    assert call(ixc, "find_customer_by_phone", "5511987650004").id == "7"  # whatsapp field
    assert call(ixc, "find_customer_by_phone", "5511900000000") is None


def test_contract_states_and_address(ixc):
    maria = call(ixc, "list_contracts", "6")[0]
    assert maria.status is ContractStatus.BLOCKED_DEBT  # status_internet FA
    assert maria.address.neighbourhood == "VILA NOVA"
    assert call(ixc, "list_contracts", "7")[0].status is ContractStatus.ACTIVE


def test_open_invoices_from_either_contract_field_as_decimals(ixc):
    invoices = call(ixc, "list_open_invoices", "2309")
    assert [i.id for i in invoices] == ["145535", "145600"]  # paid and unreleased left out
    assert invoices[0].amount == Decimal("119.90")
    assert invoices[0].status is InvoiceStatus.OVERDUE and invoices[1].status is InvoiceStatus.OPEN
    assert invoices[0].barcode.startswith("34191.") and invoices[0].pdf_url.startswith("https://")
    grid = json.loads(json.loads(ixc.requests[-1]["body"])["grid_param"])
    assert {"TB": "fn_areceber.liberado", "OP": "=", "P": "S"} in grid


def test_pix_code_and_unknown_invoice(ixc):
    assert call(ixc, "pix_code", "145535").startswith("000201")
    assert "ixcsoft" not in ixc.requests[-1]["headers"]
    with pytest.raises(BackendUnavailable):  # IXC answers HTTP 500 for an unknown invoice
        call(ixc, "pix_code", "999", retries=0)


def test_connection_status_from_radius_logins(ixc):
    maria = call(ixc, "connection_status", "2309")
    assert not maria.online and maria.blocked
    assert maria.last_seen == datetime(2026, 11, 25, 3, 12, 44)
    assert call(ixc, "connection_status", "2310").online  # "SS" counts as online


def test_trust_unlock_once_then_refused_with_the_reason(ixc):
    assert call(ixc, "trust_unlock", "2309").allowed
    refused = call(ixc, "trust_unlock", "2309")
    assert not refused.allowed and "nao esta disponivel" in refused.reason
    with pytest.raises(BackendRejected):
        call(ixc, "trust_unlock", "999")


def test_open_ticket_returns_the_protocol_and_status_finds_it(ixc):
    ticket = call(ixc, "open_ticket", "6", "2309", TicketSubject.NO_CONNECTION, "sem net desde ontem")
    assert ticket.protocol.startswith("2026112")
    created = ixc.tables["su_ticket"][-1]
    assert created["menssagem"] == "sem net desde ontem" and created["id_assunto"] == "1"
    found = call(ixc, "ticket_by_protocol", ticket.protocol)
    assert found.status is TicketStatus.OPEN and found.customer_id == "6"
    assert call(ixc, "list_tickets", "6")[0].protocol == ticket.protocol
    assert call(ixc, "ticket_by_protocol", "202611200501").status is TicketStatus.IN_PROGRESS


def test_open_lead_creates_a_crm_contact_and_returns_its_id(ixc):
    protocol = call(ixc, "open_lead", Lead("Rita Souza", "5511976543210", "Rua das Flores, 12, Centro",
                                           plan="500 mega"))
    created = ixc.tables["contato"][-1]
    assert protocol == created["id"]
    assert (created["nome"], created["fone_celular"]) == ("Rita Souza", "5511976543210")
    assert "Plano: 500 mega." in created["obs"] and created["endereco"].startswith("Rua das Flores")


def test_open_lead_rejected_by_ixc_is_a_typed_error(ixc):
    with pytest.raises(BackendRejected, match="fone_celular"):
        call(ixc, "open_lead", Lead("Rita Souza", "", "Rua das Flores, 12"))


def test_plans_cheapest_first_with_speed_from_the_name(ixc):
    plans = call(ixc, "list_plans")
    assert [(p.name, p.download_mbps, p.price) for p in plans] == [
        ("FIBRA 500 MEGA", 500, Decimal("119.90")), ("FIBRA 1 GIGA", 1000, Decimal("179.90"))]


def test_error_reply_with_http_200_is_a_rejection(ixc):
    ixc.tables.pop("radusuarios")
    with pytest.raises(BackendRejected, match="n\u00e3o est\u00e1 dispon\u00edvel"):
        call(ixc, "connection_status", "2309")


def test_wrong_token_is_rejected_without_retry(ixc):
    with pytest.raises(BackendRejected, match="HTTP 401"):
        call(ixc, "find_customer_by_document", "52998224725", token="wrong")
    assert len(ixc.requests) == 1


def test_5xx_is_retried_then_succeeds(ixc):
    ixc.fail_next = 2
    assert call(ixc, "find_customer_by_document", "52998224725").id == "6"
    assert len(ixc.requests) == 3


def test_timeout_after_bounded_retries_is_unavailable(ixc):
    ixc.delay = 0.5
    with pytest.raises(BackendUnavailable, match="timeout"):
        call(ixc, "list_plans", timeout=0.1, retries=1)
    assert len(ixc.requests) == 2


def test_unreachable_server_is_unavailable():
    async def go():
        backend = IxcBackend("http://127.0.0.1:9", USER, TOKEN, retries=1)
        try:
            await backend.list_plans()
        finally:
            await backend.close()
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        asyncio.run(go())


def test_chosen_by_isp_backend_with_its_settings(monkeypatch):
    monkeypatch.delenv("IXC_URL", raising=False)
    with pytest.raises(ValueError, match="IXC_URL"):
        create_backend("ixc")
    monkeypatch.setenv("IXC_URL", "http://ixc.local")
    monkeypatch.setenv("IXC_USER_ID", USER)
    monkeypatch.setenv("IXC_TOKEN", TOKEN)
    assert isinstance(create_backend("ixc"), IxcBackend)
