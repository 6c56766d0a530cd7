"""Brazilian taxpayer documents (CPF for people, CNPJ for companies).

Check digits come from ``validate-docbr``; this module only finds candidates
in free text, normalises them to digits and masks them for display.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from validate_docbr import CNPJ, CPF

_CPF = CPF()
_CNPJ = CNPJ()

# A run of digits with the usual separators; long enough for a CPF or CNPJ.
_CANDIDATE = re.compile(r"\d[\d.\-/ ]{9,20}\d")


@dataclass(frozen=True)
class Document:
    kind: str  # "cpf" or "cnpj"
    digits: str

    @property
    def masked(self) -> str:
        return mask_document(self.digits)


def only_digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def is_valid_cpf(value: str) -> bool:
    """True for 11 digits with correct check digits and not all equal."""
    digits = only_digits(value)
    return len(digits) == 11 and len(set(digits)) > 1 and _CPF.validate(digits)


def is_valid_cnpj(value: str) -> bool:
    """True for 14 digits with correct check digits and not all equal."""
    digits = only_digits(value)
    return len(digits) == 14 and len(set(digits)) > 1 and _CNPJ.validate(digits)


def parse_document(value: str) -> Optional[Document]:
    """The first valid CPF or CNPJ written anywhere in ``value``, else None."""
    for match in _CANDIDATE.finditer(value or ""):
        digits = only_digits(match.group())
        if is_valid_cpf(digits):
            return Document("cpf", digits)
        if is_valid_cnpj(digits):
            return Document("cnpj", digits)
    return None


def mask_document(digits: str) -> str:
    """Mask as the Brazilian government portals do: ``***.982.247-**``.

    A CNPJ keeps its middle block and branch: ``**.345.678/0001-**``.
    """
    digits = only_digits(digits)
    if len(digits) == 11:
        return f"***.{digits[3:6]}.{digits[6:9]}-**"
    if len(digits) == 14:
        return f"**.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-**"
    return "*" * len(digits)
