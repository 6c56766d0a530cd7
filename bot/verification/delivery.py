"""Sending a one-time code to the contact the ERP has on record.

WhatsApp first (Meta's *authentication* template: the code is the body
parameter and the parameter of the copy-code URL button), then e-mail
(SMTP, stdlib ``smtplib`` in a thread). Nothing here logs the code, the
number or the address.
"""
from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from typing import Any, Dict, Optional

from bot.isp.base import Customer
from bot.verification.settings import SmtpSettings, StepUpSettings
from channels.whatsapp.graph import GraphClient
from channels.whatsapp.settings import WhatsAppSettings

logger = logging.getLogger(__name__)

EMAIL_SUBJECT = "Seu codigo de verificacao"
EMAIL_TEXT = (
    "Seu codigo de verificacao e {code}. Ele vale por {minutes} minutos.\n\n"
    "Se voce nao pediu este codigo, ignore esta mensagem: sem ele ninguem ve "
    "os dados do seu contrato."
)


def authentication_template(name: str, language: str, code: str) -> Dict[str, Any]:
    """Meta's wire format of an authentication template with a copy-code button."""
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": code}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": code}]},
            ],
        },
    }


def code_email(smtp: SmtpSettings, to: str, code: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = EMAIL_SUBJECT
    message.set_content(EMAIL_TEXT.format(code=code, minutes=minutes))
    return message


def _send_email(smtp: SmtpSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)


class CodeSender:
    """One per process (it keeps the Graph API client's connections)."""

    def __init__(self, settings: StepUpSettings, whatsapp: Optional[WhatsAppSettings] = None) -> None:
        self.settings = settings
        self.whatsapp = whatsapp or WhatsAppSettings.from_env()
        self._graph: Optional[GraphClient] = None

    @property
    def graph(self) -> GraphClient:
        if self._graph is None:
            self._graph = GraphClient(self.whatsapp)
        return self._graph

    async def send(self, customer: Customer, code: str) -> str:
        """``whatsapp``, ``email``, or ``""`` when the customer could not be reached."""
        phone = next((p for p in customer.phones if p), "")
        if phone and self.whatsapp.access_token and self.whatsapp.phone_number_id:
            body = authentication_template(
                self.settings.whatsapp_template, self.whatsapp.template_language, code
            )
            sent = await self.graph.send(phone, body)
            if sent.message_id:
                return "whatsapp"
            logger.warning("Step-up: WhatsApp code not sent (Graph code %s)", sent.error_code)
        smtp = self.settings.smtp
        if customer.email and smtp.enabled:
            minutes = max(1, self.settings.code_ttl_seconds // 60)
            try:
                await asyncio.to_thread(_send_email, smtp, code_email(smtp, customer.email, code, minutes))
                return "email"
            except (OSError, smtplib.SMTPException) as error:
                logger.warning("Step-up: e-mail code not sent (%s)", type(error).__name__)
        return ""
