import pytest

from bot.documents import (
    is_valid_cnpj,
    is_valid_cpf,
    mask_document,
    parse_document,
)


@pytest.mark.parametrize("value", ["529.982.247-25", "52998224725", "111.444.777-35"])
def test_valid_cpfs(value):
    assert is_valid_cpf(value)


@pytest.mark.parametrize(
    "value",
    [
        "529.982.247-26",  # wrong last check digit
        "529.982.247-15",  # wrong first check digit
        "111.111.111-11",  # all digits equal: passes the arithmetic, still invalid
        "000.000.000-00",
        "5299822472",  # 10 digits
        "",
    ],
)
def test_invalid_cpfs(value):
    assert not is_valid_cpf(value)


def test_cnpj_check_digits():
    assert is_valid_cnpj("11.222.333/0001-81")
    assert is_valid_cnpj("11222333000181")
    assert not is_valid_cnpj("11.222.333/0001-82")
    assert not is_valid_cnpj("11111111111111")


@pytest.mark.parametrize(
    "text, kind, digits",
    [
        ("meu cpf e 529.982.247-25 ok", "cpf", "52998224725"),
        ("cpf: 52998224725", "cpf", "52998224725"),
        ("529 982 247 25", "cpf", "52998224725"),
        ("cnpj 11.222.333/0001-81", "cnpj", "11222333000181"),
        ("o certo e 11222333000181 acho", "cnpj", "11222333000181"),
    ],
)
def test_parse_document_finds_it_in_free_text(text, kind, digits):
    document = parse_document(text)
    assert document is not None
    assert (document.kind, document.digits) == (kind, digits)


@pytest.mark.parametrize("text", ["123.456.789-00", "111.111.111-11", "sei la", "12345", None])
def test_parse_document_rejects_invalid(text):
    assert parse_document(text) is None


def test_masks_like_government_portals():
    assert mask_document("52998224725") == "***.982.247-**"
    assert mask_document("529.982.247-25") == "***.982.247-**"
    assert mask_document("11222333000181") == "**.222.333/0001-**"
