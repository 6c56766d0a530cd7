"""Brazilian bank boletos (FEBRABAN layout): the 44-digit barcode and the 47-digit
linha digitavel, converted both ways and checked (pure functions).

Barcode: bank (3), currency (1), general check digit (1, mod 11), due factor (4),
amount in cents (10), free field (25). The linha digitavel shows the same digits
in five fields, the first three each closed by a mod-10 check digit.
"""
from __future__ import annotations

import re
from typing import Optional

_DIGITS = re.compile(r"\D")


def _mod10(digits: str) -> str:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        product = int(digit) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def _mod11(digits: str) -> str:
    total = sum(int(digit) * (2 + index % 8) for index, digit in enumerate(reversed(digits)))
    check = 11 - total % 11
    return "1" if check in (0, 10, 11) else str(check)


def barcode(bank: str, factor: str, cents: str, free_field: str, currency: str = "9") -> str:
    """A barcode with its general check digit."""
    body = f"{bank}{currency}{factor}{cents}{free_field}"
    if len(body) != 43 or not body.isdigit():
        raise ValueError("bank (3), factor (4), cents (10) and free field (25) digits")
    return body[:4] + _mod11(body) + body[4:]


def valid_barcode(code: str) -> bool:
    return len(code) == 44 and code.isdigit() and _mod11(code[:4] + code[5:]) == code[4]


def line_from_barcode(code: str) -> str:
    """``34191.09008 ...`` as printed on the boleto."""
    first, second, third = code[:4] + code[19:24], code[24:34], code[34:44]
    fields = [first + _mod10(first), second + _mod10(second), third + _mod10(third)]
    return (f"{fields[0][:5]}.{fields[0][5:]} {fields[1][:5]}.{fields[1][5:]} "
            f"{fields[2][:5]}.{fields[2][5:]} {code[4]} {code[5:19]}")


def barcode_digits(text: str) -> Optional[str]:
    """The barcode of a linha digitavel (47 digits) or a barcode (44), if its check digits hold."""
    digits = _DIGITS.sub("", text or "")
    if len(digits) == 44:
        return digits if valid_barcode(digits) else None
    if len(digits) != 47:
        return None
    fields = (digits[0:10], digits[10:21], digits[21:32])
    if any(_mod10(field[:-1]) != field[-1] for field in fields):
        return None
    code = digits[0:4] + digits[32] + digits[33:47] + digits[4:9] + digits[10:20] + digits[21:31]
    return code if valid_barcode(code) else None
