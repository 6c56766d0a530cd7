"""The supervisors' report: per department and agent over a date range.

Volumes, waits (claim - creation), first response (first agent message -
creation), handling (close - claim), CSAT and SLA breaches (each department's
targets: ``first_response_seconds`` / ``resolution_seconds``, else
``DESK_FIRST_RESPONSE_TARGET_SECONDS`` / ``DESK_RESOLUTION_TARGET_SECONDS``),
over the conversations created in [since, until). One row per (department,
agent) that had conversations, agent "" for those never claimed.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from typing import Dict, Iterable, List, Optional, Tuple

from bot.desk.model import CLOSED, RESOLVED, Conversation, sla_of

MAX_CONVERSATIONS = 100_000


@dataclass
class ReportRow:
    department: str
    agent: str
    conversations: int = 0
    resolved: int = 0
    closed_unresolved: int = 0
    still_open: int = 0
    average_wait_seconds: Optional[float] = None
    average_first_response_seconds: Optional[float] = None
    average_handling_seconds: Optional[float] = None
    csat_average: Optional[float] = None
    csat_count: int = 0
    first_response_breaches: int = 0
    resolution_breaches: int = 0

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def _mean(values: List[float]) -> Optional[float]:
    return round(sum(values) / len(values), 1) if values else None


def build_report(conversations: Iterable[Conversation], targets: Dict[str, Tuple[int, int]],
                 defaults: Tuple[int, int], now: float) -> List[ReportRow]:
    groups: Dict[Tuple[str, str], List[Conversation]] = {}
    for conversation in conversations:
        groups.setdefault((conversation.department, conversation.agent or ""), []).append(conversation)
    rows = []
    for (department, agent), items in sorted(groups.items()):
        first_target, resolution_target = targets.get(department) or defaults
        slas = [sla_of(c, first_target, resolution_target, now) for c in items]
        rows.append(ReportRow(
            department=department, agent=agent, conversations=len(items),
            resolved=sum(c.status == RESOLVED for c in items),
            closed_unresolved=sum(c.status == CLOSED for c in items),
            still_open=sum(c.is_open for c in items),
            average_wait_seconds=_mean([c.claimed_at - c.created_at for c in items if c.claimed_at]),
            average_first_response_seconds=_mean([s.first_response_seconds for s in slas
                                                  if s.first_response_seconds is not None]),
            average_handling_seconds=_mean([c.closed_at - c.claimed_at for c in items
                                            if c.closed_at and c.claimed_at]),
            csat_average=_mean([float(c.csat) for c in items if c.csat]),
            csat_count=sum(1 for c in items if c.csat),
            first_response_breaches=sum(s.first_response_breached for s in slas),
            resolution_breaches=sum(s.resolution_breached for s in slas),
        ))
    return rows


def report_csv(rows: List[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    names = [f.name for f in fields(ReportRow)]
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if getattr(row, name) is None else getattr(row, name) for name in names])
    return out.getvalue()
