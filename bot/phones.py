"""Brazilian phone numbers as WhatsApp sends them (``wa_id``).

A mobile number may arrive with or without the ninth digit (5511987654321 or
551187654321); both must find the same customer.
"""
from __future__ import annotations

import re
from typing import List, Optional

from bot import senders


def phone_variants(phone: str) -> List[str]:
    """The digits with country code, with and without the mobile ninth digit."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) in (10, 11):
        digits = "55" + digits
    variants = [digits]
    if digits.startswith("55") and len(digits) == 13 and digits[4] == "9":
        variants.append(digits[:4] + digits[5:])
    elif digits.startswith("55") and len(digits) == 12 and digits[4] in "6789":
        variants.append(digits[:4] + "9" + digits[4:])
    return variants


def whatsapp_number(sender_id: str) -> Optional[str]:
    """The ``wa_id`` of a WhatsApp sender (``wa:<wa_id>``); None for other channels."""
    if senders.channel_of(sender_id) != senders.WHATSAPP:
        return None
    return senders.local_id(sender_id, senders.WHATSAPP)


def whatsapp_e164(phone: str) -> str:
    """A number to write to first, as E.164 digits without the ``+``
    (``5511987654321``): Brazilian numbers get the country code when it is
    missing and mobiles the ninth digit (every mobile has had it since 2016;
    Meta delivers either form). Other countries' numbers pass with their
    code. Raises ``ValueError`` saying what is wrong."""
    text = (phone or "").strip()
    digits = re.sub(r"[\s().-]", "", text)
    international = digits.startswith("+") or digits.startswith("00")
    digits = digits.lstrip("+")
    if digits.startswith("00"):
        digits = digits[2:]
    if not digits.isdigit():
        raise ValueError("must be a phone number (digits, optionally +, spaces, dots, dashes, parentheses)")
    if not international and len(digits) in (10, 11):
        digits = "55" + digits
    if digits.startswith("55"):
        local = digits[2:]
        if len(local) not in (10, 11) or local[0] == "0" or local[1] == "0":
            raise ValueError("must be a Brazilian number with area code (DDD) and 8 or 9 digits")
        if len(local) == 10 and local[2] in "6789":
            local = local[:2] + "9" + local[2:]
        elif len(local) == 11 and local[2] != "9":
            raise ValueError("a Brazilian number with 9 digits must be a mobile starting with 9")
        return "55" + local
    if not 8 <= len(digits) <= 15:
        raise ValueError("must be an E.164 number (country code and 8 to 15 digits)")
    return digits
