"""SLA figures and the supervisors' report (bot/desk/model.py, bot/desk/reports.py)."""
from bot.desk.model import Conversation, sla_of
from bot.desk.reports import build_report, report_csv

T0 = 1_800_000_000.0


def conversation(**fields) -> Conversation:
    base = dict(id="c", status="queue", channel="whatsapp", sender_id="wa:1", reason="r", priority=0,
                department="suporte", created_at=T0)
    return Conversation(**dict(base, **fields))


def test_first_response_is_late_when_answered_late_or_still_waiting_past_the_target():
    answered = conversation(status="in_progress", agent="ana", claimed_at=T0 + 30, first_agent_message_at=T0 + 100)
    assert sla_of(answered, 300, 3600, T0 + 5000).first_response_breached is False
    late = conversation(status="in_progress", agent="ana", claimed_at=T0 + 30, first_agent_message_at=T0 + 400)
    assert sla_of(late, 300, 3600, T0 + 500).first_response_breached is True
    waiting = conversation()
    assert sla_of(waiting, 300, 3600, T0 + 200).first_response_breached is False
    assert sla_of(waiting, 300, 3600, T0 + 301).first_response_breached is True
    closed = conversation(status="resolved", agent="ana", claimed_at=T0 + 10, first_agent_message_at=T0 + 20,
                          closed_at=T0 + 4000)
    sla = sla_of(closed, 300, 3600, T0 + 10_000)
    assert (sla.first_response_seconds, sla.resolution_seconds, sla.resolution_breached) == (20.0, 4000.0, True)


def test_the_report_groups_by_department_and_agent_with_averages_and_breaches():
    rows = build_report([
        conversation(id="a", status="resolved", agent="ana", claimed_at=T0 + 60, first_agent_message_at=T0 + 120,
                     closed_at=T0 + 660, csat=5),
        conversation(id="b", status="resolved", agent="ana", claimed_at=T0 + 120, first_agent_message_at=T0 + 600,
                     closed_at=T0 + 720, csat=3),
        conversation(id="c", status="closed", agent="bia", department="financeiro", claimed_at=T0 + 10,
                     closed_at=T0 + 20),
        conversation(id="d"),
    ], {"financeiro": (60, 600)}, (300, 3600), now=T0 + 1000)
    by_key = {(r.department, r.agent): r for r in rows}
    ana = by_key[("suporte", "ana")]
    assert (ana.conversations, ana.resolved, ana.average_wait_seconds, ana.average_first_response_seconds,
            ana.average_handling_seconds, ana.csat_average, ana.first_response_breaches) == (2, 2, 90.0, 360.0, 600.0,
                                                                                             4.0, 1)
    assert by_key[("financeiro", "bia")].closed_unresolved == 1
    assert by_key[("suporte", "")].still_open == 1 and by_key[("suporte", "")].first_response_breaches == 1
    lines = report_csv(rows).splitlines()
    assert lines[0].startswith("department,agent,conversations,resolved") and len(lines) == 4
