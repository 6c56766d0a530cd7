"""A photo of a boleto on WhatsApp: its barcode read (zxing-cpp), the invoice found
among the customer's open ones and answered with its linha digitavel and PIX.

The images are real: the boleto's Interleaved 2 of 5 barcode drawn by
zxing-cpp from the demo ERP's own linha digitavel, on a white page, slightly
rotated and saved as a JPEG like a phone photo; the Graph API stand-in serves
them as Meta serves media.
"""
from __future__ import annotations

import io
import sqlite3

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bot.boleto import barcode_digits
from tests.e2e.test_whatsapp_channel import bodies, message, new_wa_id, say, shown, text, user_events, wait_text

pytestmark = pytest.mark.e2e


def boleto_photo(line: str) -> bytes:
    bars = zxingcpp.create_barcode(barcode_digits(line), zxingcpp.BarcodeFormat.ITF).to_image(scale=3)
    bars = Image.fromarray(__import__("numpy").asarray(bars))
    page = Image.new("RGB", (bars.width + 240, bars.height + 420), "white")
    ImageDraw.Draw(page).text((120, 60), "BANCO ITAU  341-7   " + line, fill="black")
    page.paste(bars.convert("RGB"), (120, 220))
    out = io.BytesIO()
    page.rotate(4, expand=True, fillcolor="white").save(out, "JPEG", quality=80)
    return out.getvalue()


def open_invoices_of_someone_with_two(demo_db) -> tuple:
    """(phone, [linha digitavel of each open invoice, oldest first]) of a customer with 2+."""
    db = sqlite3.connect(demo_db)
    rows = db.execute(
        "SELECT c.phone, i.barcode FROM invoices i JOIN contracts k ON k.id = i.contract_id "
        "JOIN customers c ON c.id = k.customer_id WHERE i.status != 'paid' AND c.phone != '' "
        "AND k.customer_id IN (SELECT customer_id FROM contracts GROUP BY customer_id HAVING COUNT(*) = 1) "
        "ORDER BY c.id, i.due_date").fetchall()
    by_phone: dict = {}
    for phone, line in rows:
        by_phone.setdefault(phone, []).append(line)
    return next((phone, lines) for phone, lines in by_phone.items() if len(lines) >= 2)


def seeded(rasa_server, graph_api) -> None:
    """The action server seeds the demo ERP on first use: a question that reads it."""
    wa_id = new_wa_id()
    say(rasa_server, text(wa_id, "quais planos voces tem"))
    wait_text(graph_api, wa_id, "Mega")


def photo(rasa_server, graph_api, wa_id: str, image: bytes) -> None:
    say(rasa_server, message(wa_id, "image", {"id": graph_api.add_media(image, "image/jpeg"),
                                              "mime_type": "image/jpeg"}))


def test_a_photo_of_a_boleto_gets_that_invoice(rasa_server, graph_api, demo_db):
    seeded(rasa_server, graph_api)
    phone, lines = open_invoices_of_someone_with_two(demo_db)
    newest = lines[-1]  # not the one the bot would pick by itself (the oldest)
    photo(rasa_server, graph_api, phone, boleto_photo(newest))
    wait_text(graph_api, phone, "Li o codigo de barras do boleto da sua foto.")
    graph_api.wait_for(lambda: any(shown(b) == newest for b in bodies(graph_api, phone)))
    wait_text(graph_api, phone, "PIX copia e cola")
    said = graph_api.wait_for(lambda: [  # saved after the replies; other tests may have asked before
        e for e in user_events(rasa_server, phone) if e["parse_data"]["intent"]["name"] == "request_invoice"
        and any(x["entity"] == "boleto_barcode" for x in e["parse_data"]["entities"])], timeout=30)
    assert said[-1]["parse_data"]["entities"][0]["value"] == barcode_digits(newest)


def test_a_boleto_that_is_not_theirs_or_cannot_be_read(rasa_server, graph_api, demo_db, transcription_api):
    seeded(rasa_server, graph_api)
    phone, lines = open_invoices_of_someone_with_two(demo_db)
    db = sqlite3.connect(demo_db)
    stranger = db.execute("SELECT i.barcode FROM invoices i JOIN contracts k ON k.id = i.contract_id "
                          "JOIN customers c ON c.id = k.customer_id WHERE c.phone != ? LIMIT 1", (phone,)).fetchone()[0]
    photo(rasa_server, graph_api, phone, boleto_photo(stranger))
    wait_text(graph_api, phone, "esse boleto nao esta entre as faturas em aberto")
    assert not any(shown(b) == stranger for b in bodies(graph_api, phone))  # another customer's stays theirs

    blurred = io.BytesIO()  # a boleto whose barcode zxing cannot find: the vision model says what it is
    Image.new("RGB", (640, 480), (30, 200, 60)).save(blurred, "JPEG")
    transcription_api.see(blurred.getvalue(), {"kind": "boleto", "description": "um boleto desfocado"})
    wa_id = new_wa_id()
    photo(rasa_server, graph_api, wa_id, blurred.getvalue())
    wait_text(graph_api, wa_id, "nao consegui ler o codigo de barras")
    assert "foto nitida" in shown(bodies(graph_api, wa_id)[0]) and user_events(rasa_server, wa_id) == []
