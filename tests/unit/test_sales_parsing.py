"""Parsing what prospects and customers type in the sales forms."""
from decimal import Decimal

import pytest

from actions.sales import match_plan, parse_phone, parse_speed, proper_name
from bot.isp.base import Plan

PLANS = [Plan(str(i), f"Fibra {name}", mbps, mbps // 2, Decimal("99.90"))
         for i, (name, mbps) in enumerate([("300 Mega", 300), ("700 Mega", 700), ("1 Giga", 1000)])]


@pytest.mark.parametrize("text, mbps", [
    ("o de 700", 700), ("700mega", 700), ("1 giga", 1000), ("1gb", 1000), ("quero o de 1,5 giga", 1500),
    ("aquele mais barato", None),
])
def test_speed(text, mbps):
    assert parse_speed(text) == mbps


def test_plan_by_speed_or_by_name():
    assert match_plan("o de 700", PLANS).name == "Fibra 700 Mega"
    assert match_plan("quero o fibra 1 giga", PLANS).name == "Fibra 1 Giga"
    assert match_plan("50 mega", PLANS) is None


@pytest.mark.parametrize("text, digits", [
    ("(11) 97654-3210", "11976543210"), ("+55 31 3222-1000", "3132221000"), ("5511976543210", "11976543210"),
    ("1234", None), ("00 91234-5678", None), ("11111111111", None),
])
def test_phone(text, digits):
    assert parse_phone(text) == digits


def test_names_keep_portuguese_particles_lowercase():
    assert proper_name("RITA DE SOUZA") == "Rita de Souza"
    assert proper_name("joao dos santos e silva") == "Joao dos Santos e Silva"
