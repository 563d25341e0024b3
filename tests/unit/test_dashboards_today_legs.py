"""The wallboard's "today" per queue uses controlling's definitions (stats.definitions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.state.records import CallRecord
from dashboards.today import aggregate
from dashboards.views import TodayStats

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rec(outcome: str, wait: float, **extra: object) -> CallRecord:
    return CallRecord(
        linkedid=f"t-{outcome}-{wait}-{len(extra)}",
        entered_at=T,
        ended_at=T + timedelta(minutes=1),
        outcome=outcome,  # type: ignore[arg-type]
        queue="q-b" if "stints" in extra else "q-a",
        queued_at=T,
        answered_at=T + timedelta(seconds=wait) if outcome == "answered" else None,
        wait_seconds=wait,
        talk_seconds=30.0 if outcome == "answered" else None,
        extra=dict(extra),
    )


def test_today_counts_each_queues_leg_and_never_a_callback_as_abandon() -> None:
    overflow = rec(
        "answered",
        25,
        stints=[
            {"queue": "q-a", "uniqueid": "u", "wait": 20, "abandoned": True, "status": "TIMEOUT"},
            {"queue": "q-b", "uniqueid": "u", "wait": 5, "answered": True},
        ],
    )
    rows = [
        rec("answered", 10),
        rec("abandoned", 3),
        rec("abandoned", 40),
        rec("diverted", 12, queue_status="WITHDRAW"),  # left for a callback
        overflow,
        rec("answered", 1, callback_leg=True),  # the dialler's own leg: not counted
    ]
    got = aggregate(rows, lambda q: 20.0, 5.0)
    # q-a: answered, two abandons (one short), the callback, the overflow's timeout leg.
    assert got["q-a"] == TodayStats(
        offered=5, answered=1, abandoned=2, answered_in_time=1, short_abandons=1
    )
    assert got["q-b"] == TodayStats(
        offered=1, answered=1, abandoned=0, answered_in_time=1, short_abandons=0
    )
