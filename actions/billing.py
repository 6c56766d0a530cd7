"""Billing jobs: the invoice (boleto, PDF, PIX), "ja paguei" (with or without a
receipt), and the trust unlock."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Dict, List, Text

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import TALK_TO_HUMAN_BUTTON, backend
from actions.handoff import hand_off
from actions.services import INVOICE_BUTTON, UNLOCK_BUTTON, CustomerAction
from bot.boleto import barcode_digits
from bot.desk.hours import TIMEZONE
from bot.formatting import br_date, brl, intent_payload
from bot.isp.base import BackendError, ContractStatus, InvoiceStatus, TicketSubject
from bot.media import MediaLinks, MediaStore, media_settings
from bot.documents import mask_document
from bot.receipts import AMOUNT, DATE, NO_INVOICE, check_receipt, reading_of, receipt_settings
from bot.redis_pool import get_redis

logger = logging.getLogger(__name__)

RECEIPT_PROBLEMS = {
    AMOUNT: "o valor nao confere com nenhuma fatura em aberto",
    DATE: "a data do pagamento nao e recente",
    NO_INVOICE: "nao ha fatura em aberto neste contrato",
}


async def send_invoice(dispatcher: CollectingDispatcher, invoice) -> None:
    """Linha digitavel, PDF and PIX as separate messages: easy to copy on a phone."""
    state = "vencida" if invoice.status is InvoiceStatus.OVERDUE else "em aberto"
    dispatcher.utter_message(
        text=f"Fatura com vencimento em {br_date(invoice.due_date)}, {brl(invoice.amount)} ({state})."
    )
    dispatcher.utter_message(text="Linha digitavel do boleto:")
    dispatcher.utter_message(text=invoice.barcode)
    dispatcher.utter_message(text=f"Boleto em PDF: {invoice.pdf_url}")
    dispatcher.utter_message(text="PIX copia e cola (compensa na hora):")
    dispatcher.utter_message(text=await backend().pix_code(invoice.id))


class ActionInvoice(CustomerAction):
    def name(self) -> Text:
        return "action_invoice"

    async def serve(self, dispatcher, tracker, customer, contract):
        invoices = await backend().list_open_invoices(contract.id)
        photographed = tracker.get_slot("boleto_barcode")
        done = [SlotSet("invoice_id", None), SlotSet("boleto_barcode", None)]
        wanted = tracker.get_slot("invoice_id")
        if photographed:  # a photo of a boleto: that invoice, if it is one of theirs still open
            wanted = next((i.id for i in invoices if barcode_digits(i.barcode) == photographed), None)
            dispatcher.utter_message(text=(
                "Li o codigo de barras do boleto da sua foto." if wanted else
                "Li o codigo de barras da sua foto, mas esse boleto nao esta entre as faturas em aberto deste "
                "contrato: pode ja ter sido pago ou ser de outro contrato."))
        if not invoices:
            dispatcher.utter_message(text="Voce nao tem nenhuma fatura em aberto neste contrato. Tudo em dia!")
            return done
        chosen = next((i for i in invoices if i.id == wanted), invoices[0])
        if len(invoices) > 1:
            lines = "\n".join(
                f"- {br_date(i.due_date)}: {brl(i.amount)}"
                + (" (vencida)" if i.status is InvoiceStatus.OVERDUE else "")
                for i in invoices
            )
            dispatcher.utter_message(text=f"Voce tem {len(invoices)} faturas em aberto:\n{lines}")
        await send_invoice(dispatcher, chosen)
        others = [i for i in invoices if i.id != chosen.id][:3]
        if others:
            dispatcher.utter_message(
                text="Quer o codigo de outra fatura?",
                buttons=[
                    {"title": f"Venc. {i.due_date:%d/%m}",
                     "payload": intent_payload("request_invoice", invoice_id=i.id)}
                    for i in others
                ],
            )
        return done


class ActionPaymentDone(CustomerAction):
    def name(self) -> Text:
        return "action_payment_done"

    async def serve(self, dispatcher, tracker, customer, contract):
        open_invoices = await backend().list_open_invoices(contract.id)
        receipt_id = tracker.get_slot("payment_receipt")
        if receipt_id:
            return await self.receipt(dispatcher, tracker, customer, contract, open_invoices, receipt_id)
        reminded = tracker.get_slot("invoice_id")  # set when the customer answers a billing reminder
        if reminded and all(i.id != reminded for i in open_invoices):
            dispatcher.utter_message(text="Confirmado: o pagamento da fatura que lembramos ja consta aqui. Obrigado!")
            return [SlotSet("invoice_id", None)]
        overdue = [i for i in open_invoices if i.status is InvoiceStatus.OVERDUE or i.id == reminded]
        if not overdue:
            dispatcher.utter_message(text="Confirmado: nao ha nenhuma fatura vencida em aberto no seu contrato. Obrigado!")
            return []
        dates = ", ".join(br_date(i.due_date) for i in overdue)
        dispatcher.utter_message(
            text=(
                f"Ainda nao consta o pagamento da fatura de {dates}. Pagamento por PIX "
                "compensa em poucos minutos; boleto pode levar ate 3 dias uteis."
            )
        )
        buttons = [TALK_TO_HUMAN_BUTTON]
        if contract.status is ContractStatus.BLOCKED_DEBT:
            dispatcher.utter_message(text="Enquanto compensa, posso liberar sua conexao em confianca.")
            buttons.insert(0, UNLOCK_BUTTON)
        dispatcher.utter_message(text="Se quiser, um atendente confere seu comprovante.", buttons=buttons)
        return []

    async def receipt(self, dispatcher, tracker, customer, contract, open_invoices,
                      receipt_id: str) -> List[Dict[Text, Any]]:
        """A receipt the customer sent: matched with an open invoice, a ticket for
        Financeiro to check it, the unlock offered when blocked; else a person.
        Never marks anything paid."""
        done = [SlotSet("payment_receipt", None)]
        reading = await reading_of(get_redis(), receipt_id)
        receipt = reading.receipt if reading else None
        today = datetime.now(TIMEZONE).date()
        check = check_receipt(receipt, open_invoices, today, receipt_settings())
        if check.invoice is None:
            said = (f"Li no comprovante {brl(receipt.amount)} pago em {br_date(receipt.paid_on)}, mas "
                    f"{RECEIPT_PROBLEMS[check.problem]}." if receipt and receipt.readable
                    else "Recebi seu comprovante, mas nao consegui ler os dados dele.")
            dispatcher.utter_message(text=f"{said} Vou passar para o Financeiro conferir.")
            return done + await hand_off(dispatcher, tracker, reason=f"comprovante a conferir: {said}")
        invoice = check.invoice
        protocol = await self.ticket_for_financeiro(customer, contract, invoice, receipt, receipt_id)
        dispatcher.utter_message(text=(
            f"Recebi seu comprovante: {brl(receipt.amount)} pago em {br_date(receipt.paid_on)}, confere com a "
            f"fatura de {br_date(invoice.due_date)}. O pagamento sera reconhecido assim que o banco compensar "
            "(PIX em minutos, boleto em ate 3 dias uteis)."
            + (f" O Financeiro vai conferir pelo protocolo {protocol}." if protocol else "")))
        if contract.status is ContractStatus.BLOCKED_DEBT:
            dispatcher.utter_message(text="Enquanto compensa, posso liberar sua conexao em confianca.",
                                     buttons=[UNLOCK_BUTTON, TALK_TO_HUMAN_BUTTON])
        return done + ([SlotSet("protocol", protocol)] if protocol else [])

    @staticmethod
    async def ticket_for_financeiro(customer, contract, invoice, receipt, receipt_id: str) -> str:
        """The ticket with the receipt attached (or linked, where the ERP takes no files); "" if it failed."""
        settings = media_settings()
        kept = await MediaStore(get_redis(), settings.ttl_seconds).read(receipt_id)
        link = (MediaLinks(settings.secret, settings.public_url).url(receipt_id, settings.ttl_seconds)
                if kept and settings.secret else "")
        description = "\n".join(line for line in (
            "Comprovante de pagamento enviado pelo cliente ao assistente virtual (lido por modelo: conferir).",
            f"Fatura: vencimento {br_date(invoice.due_date)}, {brl(invoice.amount)} (id {invoice.id})",
            f"Comprovante: {brl(receipt.amount)} em {br_date(receipt.paid_on)}",
            f"Banco: {receipt.bank}" if receipt.bank else "",
            f"Pagador: {receipt.payer}" if receipt.payer else "",
            f"Documento do pagador: {mask_document(receipt.payer_document)}" if receipt.payer_document else "",
            f"Autenticacao / ID da transacao: {receipt.transaction_id}" if receipt.transaction_id else "",
            f"Arquivo: {link}" if link else "",
        ) if line)
        try:
            ticket = await backend().open_ticket(customer.id, contract.id, TicketSubject.PAYMENT_RECEIPT, description)
            if kept:
                stored, data = kept
                await backend().attach_to_ticket(ticket.protocol, stored.filename, stored.mime, data)
        except BackendError as error:
            logger.warning("payment receipt: the Financeiro ticket failed: %s", error)
            return ""
        return ticket.protocol


class ActionTrustUnlock(CustomerAction):
    def name(self) -> Text:
        return "action_trust_unlock"

    async def serve(self, dispatcher, tracker, customer, contract):
        result = await backend().trust_unlock(contract.id)
        if result.allowed:
            until = f" ate {br_date(result.until)}" if result.until else ""
            dispatcher.utter_message(
                text=(
                    f"Pronto, {customer.first_name}! Liberei sua internet em confianca{until}. "
                    "Se nao voltar em 5 minutos, reinicie o roteador. "
                    "Pague a fatura logo para nao bloquear de novo."
                ),
                buttons=[INVOICE_BUTTON],
            )
        else:
            dispatcher.utter_message(
                text=f"Nao consegui fazer o desbloqueio de confianca: {result.reason}.",
                buttons=[INVOICE_BUTTON, TALK_TO_HUMAN_BUTTON],
            )
        return []
