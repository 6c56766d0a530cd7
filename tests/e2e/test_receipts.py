"""Payment receipts and other photos on WhatsApp, end to end.

Real files: receipt JPEGs and a PDF drawn with Pillow, served by the Graph
API stand-in as Meta serves media; the OpenAI-compatible stand-in checks the
vision request (an image or file part, JSON asked for) and answers the
reading each test told it for that file. The demo ERP is checked for what
changed: a Financeiro ticket with the receipt attached, and the invoice still
open (a receipt never marks anything paid).
"""
from __future__ import annotations

import io
import re
import sqlite3
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw

from testing.desk_client import DeskAgent, create_agent
from tests.e2e.test_boleto_photos import photo, seeded
from tests.e2e.test_whatsapp_channel import bodies, message, new_wa_id, say, shown, text, wait_text

pytestmark = pytest.mark.e2e

TODAY = datetime.now(ZoneInfo("America/Sao_Paulo")).date()


def receipt_image(amount: str, when: date, fmt: str = "JPEG") -> bytes:
    page = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(("Comprovante de transferencia PIX", f"Valor: R$ {amount}",
                                f"Data: {when:%d/%m/%Y} 10:42", "Pagador: CLIENTE TESTE", "Banco Inter S.A.",
                                "ID: E00416968202612041342abcdEFGH")):
        draw.text((40, 60 + 50 * row), line, fill="black")
    out = io.BytesIO()
    page.save(out, fmt)
    return out.getvalue()


def blocked_customers(demo_db) -> list:
    """[(phone, contract id, [(invoice id, due date, amount)] open, oldest first)] of blocked
    customers with one contract, newest first (the fixed ones of other tests are the oldest)."""
    db = sqlite3.connect(demo_db)
    found = []
    for phone, contract in db.execute(
            "SELECT c.phone, k.id FROM customers c JOIN contracts k ON k.customer_id = c.id "
            "WHERE k.status = 'blocked_debt' AND c.phone != '' AND c.document != '11144477735' "
            "AND c.id IN (SELECT customer_id FROM contracts GROUP BY customer_id HAVING COUNT(*) = 1) "
            "ORDER BY c.id DESC").fetchall():
        invoices = db.execute("SELECT id, due_date, amount FROM invoices WHERE contract_id = ? AND status != 'paid' "
                              "ORDER BY due_date", (contract,)).fetchall()
        if invoices:
            found.append((phone, contract, invoices))
    return found


def reading(amount, when: date) -> dict:
    return {"kind": "receipt", "description": "comprovante de PIX do Banco Inter", "amount": str(amount),
            "paid_at": when.isoformat(), "payer": "Cliente Teste", "payer_document": "52998224725",
            "bank": "Banco Inter", "transaction_id": "E00416968202612041342abcdEFGH"}


def br(day: str) -> str:
    return date.fromisoformat(day).strftime("%d/%m/%Y")


def test_a_receipt_that_matches_is_recognised_with_a_ticket_for_financeiro_and_the_unlock(
        rasa_server, graph_api, demo_db, transcription_api):
    seeded(rasa_server, graph_api)
    phone, contract, invoices = blocked_customers(demo_db)[0]
    invoice_id, due, amount = invoices[0]
    paid = (Decimal(amount) * Decimal("1.02")).quantize(Decimal("0.01"))  # the 2 % late fine: within tolerance
    image = receipt_image(str(paid).replace(".", ","), TODAY)
    transcription_api.see(image, reading(paid, TODAY))
    before = len(transcription_api.vision_requests)
    photo(rasa_server, graph_api, phone, image)

    said = shown(wait_text(graph_api, phone, "Recebi seu comprovante"))
    assert f"confere com a fatura de {br(due)}" in said and "R$ " in said
    protocol = re.search(r"protocolo (\d+)", said).group(1)
    offer = wait_text(graph_api, phone, "posso liberar sua conexao em confianca")
    assert "Desbloqueio" in str(offer)
    request = transcription_api.vision_requests[before]
    assert (request["part"], request["mime"], request["response_format"]) == (
        "image_url", "image/jpeg", {"type": "json_object"})

    db = sqlite3.connect(demo_db)
    subject, description = db.execute("SELECT subject, description FROM tickets WHERE protocol = ?",
                                      (protocol,)).fetchone()
    assert subject == "payment_receipt" and f"id {invoice_id}" in description
    assert "52998224725" not in description and "E00416968202612041342abcdEFGH" in description
    [(mime, data)] = db.execute("SELECT mime, data FROM ticket_files WHERE protocol = ?", (protocol,)).fetchall()
    assert (mime, bytes(data)) == ("image/jpeg", image)
    assert db.execute("SELECT status FROM invoices WHERE id = ?", (invoice_id,)).fetchone()[0] != "paid"


@pytest.fixture()
def atendente(rasa_server, redis_settings, key_prefix):
    return DeskAgent(rasa_server, create_agent(redis_settings.url, key_prefix)).online()


def test_a_pdf_receipt_that_does_not_match_goes_to_financeiro(rasa_server, graph_api, demo_db, transcription_api,
                                                                atendente):
    seeded(rasa_server, graph_api)
    phone, _, invoices = blocked_customers(demo_db)[1]
    say(rasa_server, text(phone, "ja paguei o boleto"))
    wait_text(graph_api, phone, "Ainda nao consta o pagamento")
    half = (Decimal(invoices[0][2]) / 2).quantize(Decimal("0.01"))
    pdf = receipt_image(str(half), TODAY, fmt="PDF")
    transcription_api.see(pdf, reading(half, TODAY))
    say(rasa_server, message(phone, "document", {"id": graph_api.add_media(pdf, "application/pdf"),
                                                 "mime_type": "application/pdf", "filename": "comprovante.pdf"}))
    said = shown(wait_text(graph_api, phone, "o valor nao confere com nenhuma fatura em aberto"))
    assert "Vou passar para o Financeiro" in said
    assert transcription_api.vision_requests[-1]["part"] == "file"

    queued = atendente.find_queued(f"wa:{phone}")
    assert queued["department"] == "financeiro"
    transcript = atendente.ok("GET", f"/conversations/{queued['id']}")["transcript"]
    [sent] = [m for m in transcript if m.get("media")]
    assert (sent["author"], sent["text"], sent["media"]["kind"]) == ("customer", "", "document")
    assert sent["media"]["description"] == "comprovante de PIX do Banco Inter"
    atendente.ok("POST", f"/conversations/{queued['id']}/claim")
    atendente.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "conferido"})


def test_a_file_after_ja_paguei_that_cannot_be_read_goes_to_financeiro(rasa_server, graph_api, demo_db,
                                                                        transcription_api, atendente):
    seeded(rasa_server, graph_api)
    phone, _, _ = blocked_customers(demo_db)[2]
    say(rasa_server, text(phone, "eu ja fiz o pix"))
    wait_text(graph_api, phone, "Ainda nao consta o pagamento")
    transcription_api.set_vision("error", status=500)
    try:
        photo(rasa_server, graph_api, phone, receipt_image("10,00", TODAY))
        said = shown(wait_text(graph_api, phone, "nao consegui ler os dados dele"))
    finally:
        transcription_api.set_vision("answer")
    assert "Financeiro" in said
    queued = atendente.find_queued(f"wa:{phone}")
    atendente.ok("POST", f"/conversations/{queued['id']}/claim")
    atendente.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "conferido"})


def test_any_other_photo_goes_to_an_atendente_with_the_photo_when_the_llm_is_off(
        rasa_server, graph_api, transcription_api, atendente):
    wa_id = new_wa_id()
    router = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 10, 10)).save(router, "PNG")
    transcription_api.see(router.getvalue(), {"kind": "other", "description": "roteador com a luz LOS vermelha"})
    say(rasa_server, message(wa_id, "image", {"id": graph_api.add_media(router.getvalue(), "image/png"),
                                              "mime_type": "image/png", "caption": "olha isso"}))
    queued = atendente.find_queued(f"wa:{wa_id}")
    assert bodies(graph_api, wa_id), "the customer is told they are in line"
    transcript = atendente.ok("GET", f"/conversations/{queued['id']}")["transcript"]
    [sent] = [m for m in transcript if m.get("media")]
    assert (sent["text"], sent["media"]["kind"], sent["media"]["description"]) == (
        "olha isso", "image", "roteador com a luz LOS vermelha")
    atendente.ok("POST", f"/conversations/{queued['id']}/claim")
    atendente.ok("POST", f"/conversations/{queued['id']}/close", json={"resolution": "visto"})
