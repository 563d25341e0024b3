"""A callback is never an abandon, and each caller is counted once (GUIDE §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter.state.records import CallRecord
from stats.definitions import Counters, Settings, contributions

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def record(linkedid: str, outcome: str, **extra: object) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        entered_at=T0,
        ended_at=T0 + timedelta(seconds=60),
        outcome=outcome,  # type: ignore[arg-type]
        tenant="acme",
        queue="q-acme-de",
        queued_at=T0,
        answered_at=T0 + timedelta(seconds=30) if outcome == "answered" else None,
        wait_seconds=30.0,
        talk_seconds=30.0 if outcome == "answered" else None,
        extra={"stints": [{"queue": "q-acme-de", "wait": 30.0, "uniqueid": linkedid}], **extra},
    )


def tenant_total(records: list[CallRecord]) -> Counters:
    total = Counters()
    for r in records:
        for grain, _key, counters in contributions(r, Settings()):
            if grain == "tenant":
                total.add(counters)
    return total


def test_caller_who_asked_counts_once_as_callback_and_the_legs_not_at_all() -> None:
    caller = record("c1", "diverted", cc_outcome="callback")
    placeholder = record("cbq-1-1-a", "answered", callback_leg="placeholder")
    customer = record("cb-1-a1-c", "ivr", callback_leg="customer")
    total = tenant_total([caller, placeholder, customer])
    assert (total.offered, total.answered, total.abandoned, total.callback) == (1, 0, 0, 1)
    assert total.diverted == 1
    assert list(contributions(placeholder, Settings())) == []
