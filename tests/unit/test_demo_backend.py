"""The demo ERP on a real SQLite file."""
import asyncio
from datetime import date

import pytest

from bot.isp import create_backend
from bot.isp.base import BackendUnavailable, ContractStatus, InvoiceStatus, Lead, TicketSubject
from bot.isp.demo import DemoBackend, _crc16
from bot.isp.demo_seed import cpf_with_check_digits
from bot.documents import is_valid_cpf

TODAY = date(2026, 11, 25)


@pytest.fixture
def demo(tmp_path):
    backend = DemoBackend(str(tmp_path / "demo.sqlite3"), today=TODAY)
    yield backend
    asyncio.run(backend.close())


def run(coroutine):
    return asyncio.run(coroutine)


def test_seeded_customers_cover_every_contract_state(demo):
    async def states():
        found = set()
        for document in ["52998224725", "11144477735", "39053344705", "98765432100"]:
            customer = await demo.find_customer_by_document(document)
            found |= {c.status for c in await demo.list_contracts(customer.id)}
        return found
    assert run(states()) == set(ContractStatus)


def test_generated_cpfs_have_valid_check_digits():
    assert cpf_with_check_digits("529982247") == "52998224725"
    assert all(is_valid_cpf(cpf_with_check_digits(f"{n:09d}")) for n in range(100000000, 100000050))


def test_blocked_contract_owes_overdue_invoices_with_decimal_amounts(demo):
    async def invoices():
        customer = await demo.find_customer_by_document("11144477735")
        contract = (await demo.list_contracts(customer.id))[0]
        return await demo.list_open_invoices(contract.id)
    result = run(invoices())
    assert [i.status for i in result] == [InvoiceStatus.OVERDUE, InvoiceStatus.OVERDUE, InvoiceStatus.OPEN]
    assert str(result[0].amount) == "99.90"
    assert [i.due_date for i in result] == sorted(i.due_date for i in result)


def test_trust_unlock_once_a_month_and_it_persists(demo, tmp_path):
    async def unlock_twice():
        customer = await demo.find_customer_by_document("11144477735")
        contract = (await demo.list_contracts(customer.id))[0]
        first = await demo.trust_unlock(contract.id)
        await demo.close()
        reopened = DemoBackend(str(demo.path), today=TODAY)
        second = await reopened.trust_unlock(contract.id)
        status = (await reopened.list_contracts(customer.id))[0].status
        await reopened.close()
        return first, second, status
    first, second, status = run(unlock_twice())
    assert first.allowed and first.until == date(2026, 11, 28)
    assert status is ContractStatus.ACTIVE
    assert not second.allowed


def test_speed_reduced_customer_already_used_this_month_is_refused_with_a_reason(demo):
    async def twice():
        customer = await demo.find_customer_by_document("39053344705")
        contract = (await demo.list_contracts(customer.id))[0]
        await demo.trust_unlock(contract.id)
        return await demo.trust_unlock(contract.id)
    assert "nao esta bloqueado" in run(twice()).reason


def test_ticket_gets_a_12_digit_protocol_and_is_found_again(demo):
    async def ticket():
        opened = await demo.open_ticket("1", "1", TicketSubject.TECHNICAL_VISIT, "cabo rompido")
        return opened, await demo.ticket_by_protocol(opened.protocol), await demo.list_tickets("1")
    opened, found, listed = run(ticket())
    assert len(opened.protocol) == 12 and opened.protocol.isdigit()
    assert found.subject is TicketSubject.TECHNICAL_VISIT
    assert listed[0].protocol == opened.protocol


def test_lead_is_stored_with_its_own_protocol(demo, tmp_path):
    protocol = run(demo.open_lead(Lead("Rita Souza", "11976543210", "Rua das Flores, 12, Centro", "500 mega")))
    assert len(protocol) == 12 and protocol.isdigit() and protocol[6] == "9"
    import sqlite3
    row = sqlite3.connect(tmp_path / "demo.sqlite3").execute(
        "SELECT name, phone, address, plan FROM leads WHERE protocol = ?", (protocol,)).fetchone()
    assert row == ("Rita Souza", "11976543210", "Rua das Flores, 12, Centro", "500 mega")


def test_phone_with_or_without_ninth_digit_finds_the_customer(demo):
    assert run(demo.find_customer_by_phone("5511987650001")).document == "52998224725"
    assert run(demo.find_customer_by_phone("551187650001")).document == "52998224725"


def test_outage_only_in_its_neighbourhood(demo):
    async def outages(document):
        customer = await demo.find_customer_by_document(document)
        return [len(await demo.outages_for(c)) for c in await demo.list_contracts(customer.id)]
    assert run(outages("11222333000181")) == [1, 0]  # Centro, Vila Nova


def test_pix_payload_carries_amount_and_a_valid_crc(demo):
    async def pix():
        contract = (await demo.list_contracts("1"))[0]
        invoice = (await demo.list_open_invoices(contract.id))[0]
        return invoice, await demo.pix_code(invoice.id)
    invoice, code = run(pix())
    assert code.startswith("000201") and f"{invoice.amount:.2f}" in code
    assert code[-4:] == _crc16(code[:-4])


def test_unusable_database_is_a_backend_error(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    broken = DemoBackend(str(tmp_path / "not-a-dir" / "demo.sqlite3"))
    with pytest.raises(BackendUnavailable):
        run(broken.find_customer_by_document("52998224725"))


def test_backend_is_chosen_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("ISP_DEMO_DB", str(tmp_path / "x.sqlite3"))
    assert isinstance(create_backend("demo"), DemoBackend)
    with pytest.raises(ValueError, match="ISP_BACKEND"):
        create_backend("sgp")
    with pytest.raises(ValueError, match="ISP_BACKEND"):
        create_backend("../etc")
