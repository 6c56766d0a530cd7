import logging

from bot.pii import PiiMaskingFilter, mask_pii


def test_masks_cpf_cnpj_phone_and_email():
    text = (
        "cpf 529.982.247-25 e 52998224725, cnpj 11.222.333/0001-81, "
        "zap (11) 98765-4321 / 5511987654321, mail joao.silva@gmail.com"
    )
    masked = mask_pii(text)
    for secret in ["529.982.247-25", "52998224725", "11.222.333/0001-81",
                   "98765-4321", "5511987654321", "joao.silva@gmail.com"]:
        assert secret not in masked
    assert "***.982.247-**" in masked
    assert "*******4321" in masked
    assert "j***@gmail.com" in masked


def test_leaves_ordinary_text_alone():
    text = "Plano de 500 mega por R$ 99,90, vencimento dia 10, protocolo 4839201"
    assert mask_pii(text) == text


def test_filter_masks_formatted_arguments(caplog):
    logger = logging.getLogger("test.pii")
    handler = logging.Handler()
    records = []
    handler.emit = records.append
    handler.addFilter(PiiMaskingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("received %s", "meu cpf 529.982.247-25")
    finally:
        logger.removeHandler(handler)
    assert records[0].getMessage() == "received meu cpf ***.982.247-**"
