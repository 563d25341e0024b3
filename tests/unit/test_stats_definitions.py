"""Metric definitions (stats.definitions), checked with tables of call rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from callcenter.state.records import CallRecord, Outcome
from stats.definitions import (
    Counters,
    Settings,
    call_counters,
    contributions,
    facts,
    figures,
    legs_of,
)
from stats.period import PeriodError, parse_period, zone
from stats.reconcile import queue_params_view
from stats.rollups import aggregate, bucket_of

T0 = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)
S = Settings(service_level_seconds=20, short_abandon_seconds=5, billable_after_seconds=15)


def row(
    outcome: Outcome,
    wait: float | None = None,
    talk: float | None = None,
    *,
    queue: str | None = "q-a",
    agent: str | None = None,
    at: datetime = T0,
    **extra: Any,
) -> CallRecord:
    queued = at + timedelta(seconds=3) if queue and outcome != "ivr" else None
    return CallRecord(
        linkedid=f"c{id(extra)}-{outcome}-{wait}",
        entered_at=at,
        ended_at=at + timedelta(minutes=2),
        outcome=outcome,
        queue=queue,
        agent=agent or ("Anna" if outcome == "answered" else None),
        queued_at=queued,
        answered_at=queued + timedelta(seconds=wait or 0)
        if outcome == "answered" and queued
        else None,
        wait_seconds=wait,
        talk_seconds=talk,
        extra=extra,
    )


# outcome, wait, talk, expected non-zero counters of the tenant grain
CASES: list[tuple[CallRecord, dict[str, float]]] = [
    (
        row("answered", 4, 60),
        {
            "offered": 1,
            "answered": 1,
            "answered_in_sl": 1,
            "billable": 1,
            "wait_answered": 4,
            "wait_max": 4,
            "talk": 60,
            "handled": 60,
        },
    ),
    (  # answered exactly at T counts for the service level (Asterisk: holdtime <= T)
        row("answered", 20, 10),
        {
            "offered": 1,
            "answered": 1,
            "answered_in_sl": 1,
            "wait_answered": 20,
            "wait_max": 20,
            "talk": 10,
            "handled": 10,
        },
    ),
    (
        row("answered", 21, 15),
        {
            "offered": 1,
            "answered": 1,
            "billable": 1,
            "wait_answered": 21,
            "wait_max": 21,
            "talk": 15,
            "handled": 15,
        },
    ),
    (row("abandoned", 4.9), {"offered": 1, "abandoned": 1, "abandoned_short": 1, "wait_max": 4.9}),
    (row("abandoned", 5), {"offered": 1, "abandoned": 1, "wait_max": 5}),
    (row("timeout", 300), {"offered": 1, "timeout": 1, "wait_max": 300}),
    (row("blocked", None, queue_status="JOINEMPTY"), {"offered": 1, "blocked": 1}),
    (
        row("diverted", 30, cc_outcome="voicemail", queue_status="TIMEOUT"),
        {"offered": 1, "diverted": 1, "voicemail": 1, "wait_max": 30},
    ),
    (  # a callback taken from the queue is diverted, never abandoned
        row("diverted", 12, queue_status="WITHDRAW"),
        {"offered": 1, "diverted": 1, "callback": 1, "wait_max": 12},
    ),
    (  # voicemail straight from the IVR (closed): counted, but never offered to a queue
        row("diverted", queue=None, cc_outcome="voicemail"),
        {"voicemail": 1, "not_offered": 1},
    ),
    (row("ivr", queue=None), {"not_offered": 1}),
    (row("lost", 8), {"offered": 1, "lost": 1, "wait_max": 8}),
]


@pytest.mark.parametrize(("record", "expected"), CASES)
def test_tenant_counters_of_one_call(record: CallRecord, expected: dict[str, float]) -> None:
    got = {k: v for k, v in call_counters(facts(record), S).as_dict().items() if v}
    assert got == expected


def test_offered_is_the_sum_of_its_outcomes() -> None:
    total = Counters()
    for record, _ in CASES:
        total.add(call_counters(facts(record), S))
    ends = total.answered + total.abandoned + total.timeout + total.blocked
    assert total.offered == ends + total.diverted + total.lost


def overflow(answered_second: bool = True, **extra: Any) -> CallRecord:
    """Timed out in q-a after 10 s, then answered (or abandoned) in q-b after 6 s."""
    stints = [
        {"queue": "q-a", "uniqueid": "u1", "wait": 10.0, "abandoned": True, "status": "TIMEOUT"},
        {"queue": "q-b", "uniqueid": "u1", "wait": 6.0}
        | ({"answered": True} if answered_second else {"abandoned": True}),
    ]
    outcome: Outcome = "answered" if answered_second else "abandoned"
    return row(outcome, 16.4, 40 if answered_second else None, queue="q-b", stints=stints, **extra)


def test_multi_stint_call_is_one_call_for_the_tenant_and_a_leg_per_queue() -> None:
    record = overflow()
    assert [(leg.queue, leg.outcome, leg.wait) for leg in legs_of(record)] == [
        ("q-a", "timeout", 10.0),
        ("q-b", "answered", 6.0),
    ]
    parts = {(g, k): c for g, k, c in contributions(record, S)}
    tenant = parts[("tenant", "")]
    # One call, answered, its wait the sum of queue waits (IVR and dialplan gaps excluded).
    assert (tenant.offered, tenant.answered, tenant.timeout) == (1, 1, 0)
    assert tenant.wait_answered == 16.0 and tenant.answered_in_sl == 1
    assert (parts[("queue", "q-a")].offered, parts[("queue", "q-a")].timeout) == (1, 1)
    assert parts[("queue", "q-a")].answered == 0
    assert (parts[("queue", "q-b")].answered, parts[("queue", "q-b")].wait_answered) == (1, 6.0)
    assert parts[("agent", "Anna")].answered == 1 and parts[("agent", "Anna")].talk == 40


def test_multi_stint_call_abandoned_in_its_last_queue_is_abandoned() -> None:
    record = overflow(answered_second=False)
    legs = legs_of(record)
    assert [leg.outcome for leg in legs] == ["timeout", "abandoned"]
    tenant = call_counters(facts(record), S)
    assert (tenant.offered, tenant.abandoned, tenant.answered, tenant.abandoned_short) == (
        1,
        1,
        0,
        0,
    )


def test_queue_timeout_then_voicemail_is_a_timeout_leg_and_a_diverted_call() -> None:
    stints = [
        {"queue": "q-a", "uniqueid": "u9", "wait": 30.0, "abandoned": True, "status": "TIMEOUT"}
    ]
    record = row("diverted", 30, stints=stints, cc_outcome="voicemail", queue_status="TIMEOUT")
    parts = {(g, k): c for g, k, c in contributions(record, S)}
    assert parts[("queue", "q-a")].timeout == 1 and parts[("queue", "q-a")].voicemail == 0
    assert parts[("tenant", "")].diverted == 1 and parts[("tenant", "")].voicemail == 1


def test_figures_both_ways_and_ratios() -> None:
    c = Counters(
        offered=10,
        answered=6,
        answered_in_sl=4,
        abandoned=3,
        abandoned_short=2,
        timeout=1,
        wait_answered=60.0,
        wait_max=45.0,
        talk=600.0,
        handled=660.0,
    )
    f = figures(c)
    assert f.service_level == 0.5  # 4 / (10 - 2)
    assert f.service_level_all == 0.4  # 4 / 10
    assert f.service_level_answered == 0.6667  # 4 / 6
    assert f.asa == 10.0 and f.aht == 110.0
    assert f.abandon_rate == 0.3 and f.abandon_rate_long == 0.125  # 1 / 8
    assert f.longest_wait == 45.0 and f.handled_minutes == 11.0
    empty = figures(Counters())
    assert empty.service_level is None and empty.asa is None and empty.abandon_rate is None


def test_wrapup_is_billed_per_answered_call() -> None:
    s = Settings(wrapup_seconds=30, billable_after_seconds=15)
    c = call_counters(facts(row("answered", 3, 14)), s)
    assert (c.talk, c.handled, c.billable) == (14, 44, 0)


def test_asterisk_counts_timeouts_and_withdrawals_as_abandoned() -> None:
    c = Counters(answered=5, abandoned=2, timeout=3, diverted=1, blocked=4)
    assert queue_params_view(c.as_dict()) == {"Completed": 5, "Abandoned": 6}


def test_settings_are_validated() -> None:
    Settings().validate()
    with pytest.raises(ValueError, match="short_abandon_seconds"):
        Settings(short_abandon_seconds=-1).validate()


def test_aggregate_sums_per_bucket_and_grain() -> None:
    later = T0 + timedelta(minutes=14)  # 09:14:05, same quarter as 09:00:05
    nxt = T0 + timedelta(minutes=15)
    records = [
        row("answered", 5, 30),
        row("abandoned", 2, at=later),
        row("answered", 30, 20, at=nxt),
    ]
    out = aggregate(records, S)
    b0, b1 = bucket_of(T0), bucket_of(nxt)
    assert b0 == datetime(2026, 3, 2, 9, 0, tzinfo=UTC) and b1 == b0 + timedelta(minutes=15)
    assert out[("tenant", "", b0)].offered == 2 and out[("tenant", "", b0)].abandoned_short == 1
    assert out[("queue", "q-a", b1)].answered == 1 and out[("queue", "q-a", b1)].answered_in_sl == 0
    assert out[("agent", "Anna", b0)].talk == 30


@pytest.mark.parametrize(
    ("kind", "kwargs", "first", "last"),
    [
        ("day", {"day": "2026-03-29"}, date(2026, 3, 29), date(2026, 3, 29)),
        ("week", {"day": "2026-03-04"}, date(2026, 3, 2), date(2026, 3, 8)),
        ("month", {"month": "2026-02"}, date(2026, 2, 1), date(2026, 2, 28)),
        (
            "custom",
            {"first": "2026-01-30", "last": "2026-02-02"},
            date(2026, 1, 30),
            date(2026, 2, 2),
        ),
    ],
)
def test_periods_are_local_calendar_ranges(
    kind: str, kwargs: dict[str, str], first: date, last: date
) -> None:
    p = parse_period(kind, zone("Europe/Berlin"), **kwargs)  # type: ignore[arg-type]
    assert (p.first, p.last) == (first, last)


def test_dst_day_is_23_hours_in_berlin() -> None:
    p = parse_period("day", zone("Europe/Berlin"), day="2026-03-29")
    assert p.start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert p.end - p.start == timedelta(hours=23)


@pytest.mark.parametrize(
    ("kind", "kwargs", "field"),
    [
        ("year", {}, "period"),
        ("day", {"day": "2026-13-01"}, "date"),
        ("month", {"month": "March"}, "month"),
        ("custom", {"first": "2026-01-01"}, "to"),
        ("custom", {"first": "2026-02-01", "last": "2026-01-01"}, "to"),
        ("custom", {"first": "2020-01-01", "last": "2026-01-01"}, "to"),
        ("month", {"month": "9999-12"}, "month"),
        ("day", {"day": "9999-12-31"}, "date"),
    ],
)
def test_bad_periods_name_the_field(kind: str, kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(kind, zone("UTC"), **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
