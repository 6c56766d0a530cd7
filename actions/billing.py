"""Billing jobs: the invoice (boleto, PDF, PIX), "ja paguei", and the trust unlock."""
from __future__ import annotations

from typing import Text

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import TALK_TO_HUMAN_BUTTON, backend
from actions.services import INVOICE_BUTTON, UNLOCK_BUTTON, CustomerAction
from bot.boleto import barcode_digits
from bot.formatting import br_date, brl, intent_payload
from bot.isp.base import ContractStatus, InvoiceStatus


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
