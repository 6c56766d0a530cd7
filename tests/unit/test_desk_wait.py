"""The queue's ordering score and the wait estimate (pure functions)."""
import pytest

from bot.desk.conversations import estimate_wait, queue_score


def test_higher_priority_first_then_first_come_first_served():
    t = 1_795_000_000.0  # 2026
    order = sorted([("late", 0, t + 60), ("early", 0, t), ("urgent", 5, t + 3600),
                    ("max", 100, t + 86400 * 365)], key=lambda item: queue_score(item[1], item[2]))
    assert [name for name, _, _ in order] == ["max", "urgent", "early", "late"]
    assert queue_score(0, t) != queue_score(0, t + 0.001)  # millisecond resolution


@pytest.mark.parametrize("position, online, idle, handling, expected", [
    (1, 0, 0, 300, None),   # nobody online: unknown
    (1, 2, 1, 300, 0),      # an idle agent can take it now
    (2, 2, 1, 300, 150),    # (2 - 1) * 300 / 2
    (5, 3, 0, 240, 400),    # 5 * 240 / 3
])
def test_estimate_wait(position, online, idle, handling, expected):
    assert estimate_wait(position, online, idle, handling) == expected
