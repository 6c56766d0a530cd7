"""The handoff's small decisions and texts (bot/desk/handoff.py)."""
from bot.desk import handoff


def test_leaving_the_queue_by_button_intent_or_plain_phrase_but_not_cancelling_the_contract():
    assert handoff.wants_to_leave("/leave_queue")
    assert handoff.wants_to_leave("algo", "leave_queue", 0.9)
    assert not handoff.wants_to_leave("algo", "leave_queue", 0.3)
    assert handoff.wants_to_leave("Cancelar atendimento!!")
    assert handoff.wants_to_leave("ah quer saber, volta pro bot")
    assert not handoff.wants_to_leave("quero cancelar meu plano", "request_cancellation", 0.95)
    assert not handoff.wants_to_leave("")


def test_priority_puts_no_connection_blocked_and_failures_first():
    normal = handoff.priority_for(["request_invoice"])
    assert normal == handoff.PRIORITY_NORMAL
    assert handoff.priority_for(["report_no_connection"]) > normal
    assert handoff.priority_for(["report_no_connection"], blocked=True) > handoff.priority_for(["report_no_connection"])
    assert handoff.priority_for([None], backend_failed=True) > normal
    assert 0 <= handoff.priority_for(["trust_unlock"], blocked=True, backend_failed=True) <= 100


def test_reason_names_failures_and_misunderstandings():
    assert handoff.reason_for("request_human") == "pedido do cliente"
    assert handoff.reason_for("request_invoice", backend_failed=True) == "falha no sistema"
    assert handoff.reason_for("nlu_fallback", fallbacks=2) == "o bot nao entendeu"


def test_summary_is_masked_and_bounded():
    summary = handoff.summary_for(
        [("cliente", "meu cpf e 529.982.247-25 e o fone 11987650001"), ("bot", "Localizei seu cadastro")],
        [("Documento", "***.982.247-**")], "pedido do cliente")
    assert "529.982.247-25" not in summary and "11987650001" not in summary
    assert "***.982.247-**" in summary and summary.startswith("Motivo: pedido do cliente.")
    long = handoff.summary_for([("cliente", "x " * 5000)] * 10, [], "r", max_chars=500)
    assert len(long) <= 500


def test_wait_and_position_texts():
    assert handoff.wait_phrase(None) == "sem previsao"
    assert handoff.wait_phrase(30) == "menos de 1 minuto"
    assert handoff.wait_phrase(300) == "cerca de 5 minutos"
    assert handoff.wait_phrase(4800) == "cerca de 1h20"
    assert "proximo da fila" in handoff.queued_text(1, 0)
    assert "posicao 3" in handoff.queued_text(3, 600)


def test_csat_buttons_and_score_parsing():
    buttons = handoff.csat_buttons()
    assert [b["payload"] for b in buttons][0] == '/rate_service{"csat_score": "5"}'
    assert handoff.csat_score("4") == 4
    assert handoff.csat_score(None, "dou nota 3 pra voces") == 3
    assert handoff.csat_score(None, "nota 10") is None
    assert handoff.csat_score(None, "otimo") is None


def test_typing_reports_send_changes_and_a_still_typing_every_few_seconds():
    from bot.desk.typing import REPEAT_SECONDS, TypingReports

    reports = TypingReports()
    sent = [reports.worth_sending(active, now) for active, now in [
        (True, 0.0), (True, 1.0), (True, REPEAT_SECONDS + 0.1), (False, REPEAT_SECONDS + 0.2),
        (False, 10.0), (True, 10.5)]]
    assert sent == [True, False, True, True, False, True]
