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
