"""Opening status and next opening: time zones, DST change days, holidays by state,
closures spanning days, emergency closure."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.hours import OpenStatus, next_opening, status_at, to_utc
from ivr.tenancy import HolidayRule
from ivr.testing import closure, make_tenant, week

BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2026: Berlin springs forward on Sun 29 March (02:00 → 03:00), falls back on Sun 25 October
# (03:00 → 02:00). London switches at 01:00 UTC the same days; New York on 8 March/1 Nov.
@pytest.mark.parametrize(
    ("label", "tenant_changes", "when", "expected"),
    [
        ("weekday morning", {}, "2026-11-30T07:30", OpenStatus("open")),
        ("lunch break", {}, "2026-11-30T11:30", OpenStatus("closed")),
        ("before opening", {}, "2026-11-30T06:59:59", OpenStatus("closed")),
        ("opening instant", {}, "2026-11-30T07:00", OpenStatus("open")),
        ("closing instant is closed", {}, "2026-11-30T16:00", OpenStatus("closed")),
        ("saturday", {}, "2026-11-28T10:00", OpenStatus("closed")),
        # CEST in summer: 07:30 UTC is 09:30 local.
        ("summer offset", {}, "2026-07-01T06:30", OpenStatus("open")),
        ("summer offset before", {}, "2026-07-01T05:30", OpenStatus("closed")),
        ("epiphany in Bavaria", {}, "2026-01-06T09:00", OpenStatus("holiday", "Epiphany")),
        (
            "epiphany not in Berlin",
            {"holidays": HolidayRule("DE", "BE")},
            "2026-01-06T09:00",
            OpenStatus("open"),
        ),
        (
            "corpus christi in Bavaria",
            {},
            "2026-06-04T09:00",
            OpenStatus("holiday", "Corpus Christi"),
        ),
        (
            "corpus christi not in Hamburg",
            {"holidays": HolidayRule("DE", "HH")},
            "2026-06-04T09:00",
            OpenStatus("open"),
        ),
        (
            "reformation day in Saxony",
            {"holidays": HolidayRule("DE", "SN")},
            "2025-10-31T09:00",
            OpenStatus("holiday", "Reformation Day"),
        ),
        ("reformation day not in Bavaria", {}, "2025-10-31T09:00", OpenStatus("open")),
        (
            "holiday the tenant opens on",
            {"holidays": HolidayRule("DE", "BY", frozenset({"Epiphany"}))},
            "2026-01-06T09:00",
            OpenStatus("open"),
        ),
        ("no holiday rule", {"holidays": None}, "2026-01-06T09:00", OpenStatus("open")),
        # Holiday by local date: 23:30 UTC on 5 Jan is already 6 Jan in Berlin.
        (
            "holiday by local date",
            {"hours": week(tue=["00:00-24:00"], mon=["00:00-24:00"])},
            "2026-01-05T23:30",
            OpenStatus("holiday", "Epiphany"),
        ),
        (
            "emergency closure",
            {"emergency_closed": True},
            "2026-11-30T07:30",
            OpenStatus("emergency"),
        ),
        (
            "closure spanning days",
            {"closures": (closure("2026-12-24T00:00", "2027-01-01T00:00", "Betriebsferien"),)},
            "2026-12-28T09:00",
            OpenStatus("closed", "Betriebsferien"),
        ),
        (
            "after closure",
            {"closures": (closure("2026-12-24T00:00", "2026-12-29T00:00"),)},
            "2026-12-29T09:00",
            OpenStatus("open"),
        ),
        # London tenant: 09:00-17:30 wall clock. Friday before BST: 08:30 UTC = 08:30 GMT.
        (
            "london GMT",
            {"timezone": "Europe/London", "hours": week(fri=["09:00-17:30"], mon=["09:00-17:30"])},
            "2026-03-27T08:30",
            OpenStatus("closed"),
        ),
        (
            "london BST",
            {"timezone": "Europe/London", "hours": week(fri=["09:00-17:30"], mon=["09:00-17:30"])},
            "2026-03-30T08:30",
            OpenStatus("open"),
        ),
        # New York is on EDT from 8 March while Berlin is still on CET.
        (
            "new york EDT",
            {"timezone": "America/New_York", "holidays": None, "hours": week(mon=["09:00-17:00"])},
            "2026-03-09T13:30",
            OpenStatus("open"),
        ),
        (
            "new york EST",
            {"timezone": "America/New_York", "holidays": None, "hours": week(mon=["09:00-17:00"])},
            "2026-03-02T13:30",
            OpenStatus("closed"),
        ),
        # Spring forward: 02:30-05:00 opens at 03:00 CEST = 01:00 UTC.
        (
            "spring gap before",
            {"hours": week(sun=["02:30-05:00"]), "holidays": None},
            "2026-03-29T00:59:59",
            OpenStatus("closed"),
        ),
        (
            "spring gap after",
            {"hours": week(sun=["02:30-05:00"]), "holidays": None},
            "2026-03-29T01:00",
            OpenStatus("open"),
        ),
        (
            "spring interval inside gap never opens",
            {"hours": week(sun=["02:00-02:30"]), "holidays": None},
            "2026-03-29T01:00",
            OpenStatus("closed"),
        ),
        # Fall back: 02:00-03:00 wall clock passes twice (00:00-01:00 and 01:00-02:00 UTC).
        (
            "fall first pass",
            {"hours": week(sun=["02:00-03:00"]), "holidays": None},
            "2026-10-25T00:30",
            OpenStatus("open"),
        ),
        (
            "fall second pass",
            {"hours": week(sun=["02:00-03:00"]), "holidays": None},
            "2026-10-25T01:30",
            OpenStatus("open"),
        ),
        (
            "fall after",
            {"hours": week(sun=["02:00-03:00"]), "holidays": None},
            "2026-10-25T02:00",
            OpenStatus("closed"),
        ),
        (
            "fall before",
            {"hours": week(sun=["02:00-03:00"]), "holidays": None},
            "2026-10-24T23:59",
            OpenStatus("closed"),
        ),
        # Night shift split at midnight behaves as one interval.
        (
            "night shift late",
            {"hours": week(mon=["22:00-24:00"], tue=["00:00-06:00"])},
            "2026-11-30T22:30",
            OpenStatus("open"),
        ),
        (
            "night shift after midnight",
            {"hours": week(mon=["22:00-24:00"], tue=["00:00-06:00"])},
            "2026-11-30T23:30",
            OpenStatus("open"),
        ),
    ],
)
def test_status_at(
    label: str, tenant_changes: dict[str, object], when: str, expected: OpenStatus
) -> None:
    tenant = make_tenant(**tenant_changes)
    assert status_at(tenant, utc(when)) == expected, label


@pytest.mark.parametrize(
    ("label", "tenant_changes", "when", "expected"),
    [
        ("open now returns now", {}, "2026-11-30T07:30", "2026-11-30T07:30"),
        ("lunch break", {}, "2026-11-30T11:30", "2026-11-30T12:00"),
        ("friday evening to monday", {}, "2026-11-27T17:00", "2026-11-30T07:00"),
        ("sunday to monday in summer", {}, "2026-07-05T10:00", "2026-07-06T06:00"),
        # Mon 5 Jan 2026 evening → Tue 6 Jan is Epiphany in Bavaria → Wed 7 Jan 08:00 CET.
        ("skips holiday", {}, "2026-01-05T18:00", "2026-01-07T07:00"),
        (
            "holiday elsewhere",
            {"holidays": HolidayRule("DE", "NW")},
            "2026-01-05T18:00",
            "2026-01-06T07:00",
        ),
        # Christmas closure (inclusive dates) → 1 Jan holiday, weekend → Mon 4 Jan 2027.
        (
            "closure then holiday then weekend",
            {"closures": (closure("2026-12-24T00:00", "2027-01-01T00:00"),)},
            "2026-12-23T17:00",
            "2027-01-04T07:00",
        ),
        # A closure ending inside an interval opens at its end, not at the next interval.
        (
            "closure ends mid-interval",
            {"closures": (closure("2026-12-01T10:00", "2026-12-01T15:00"),)},
            "2026-12-01T09:30",
            "2026-12-01T14:00",
        ),
        (
            "across spring forward",
            {"hours": week(sun=["02:30-05:00"]), "holidays": None},
            "2026-03-28T12:00",
            "2026-03-29T01:00",
        ),
        (
            "interval lost in the gap: next week",
            {"hours": week(sun=["02:00-02:30"]), "holidays": None},
            "2026-03-28T12:00",
            "2026-04-05T00:00",
        ),
        (
            "ambiguous start: first occurrence",
            {"hours": week(sun=["02:30-04:00"]), "holidays": None},
            "2026-10-24T12:00",
            "2026-10-25T00:30",
        ),
        (
            "london after BST starts",
            {"timezone": "Europe/London", "hours": week(mon=["09:00-17:30"])},
            "2026-03-28T12:00",
            "2026-03-30T08:00",
        ),
    ],
)
def test_next_opening(
    label: str, tenant_changes: dict[str, object], when: str, expected: str
) -> None:
    tenant = make_tenant(**tenant_changes)
    assert next_opening(tenant, utc(when)) == utc(expected), label


def test_next_opening_none_during_emergency() -> None:
    assert next_opening(make_tenant(emergency_closed=True), utc("2026-11-30T07:30")) is None


def test_next_opening_none_when_never_open() -> None:
    assert next_opening(make_tenant(hours=week()), utc("2026-11-30T07:30")) is None


def test_naive_instant_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        status_at(make_tenant(), datetime(2026, 11, 30, 8, 0))


def test_other_zone_input_is_the_same_instant() -> None:
    tenant = make_tenant()
    when = datetime(2026, 11, 30, 8, 30, tzinfo=BERLIN)
    assert status_at(tenant, when).is_open
    assert next_opening(tenant, when) == when


@pytest.mark.parametrize(
    ("local", "expected_utc"),
    [
        ("2026-11-30T08:00", "2026-11-30T07:00"),  # plain
        ("2026-03-29T02:30", "2026-03-29T01:00"),  # in the gap: when the gap ends
        ("2026-03-29T03:00", "2026-03-29T01:00"),
        ("2026-10-25T02:30", "2026-10-25T00:30"),  # ambiguous: first occurrence
    ],
)
def test_to_utc(local: str, expected_utc: str) -> None:
    assert to_utc(datetime.fromisoformat(local), BERLIN) == utc(expected_utc)


# --- properties over random instants, zones and hours ------------------------------------

from datetime import timedelta  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ZONES = ["Europe/Berlin", "Europe/London", "America/New_York", "Australia/Sydney", "UTC"]
TIMES = ["00:00", "01:30", "02:00", "02:30", "03:00", "08:00", "12:00", "17:30", "24:00"]


@st.composite
def tenants_and_instants(draw: st.DrawFn) -> tuple[object, datetime]:
    days: dict[str, list[str]] = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        a, b = sorted(
            draw(st.lists(st.sampled_from(TIMES), min_size=2, max_size=2, unique=True)),
            key=TIMES.index,
        )
        if draw(st.booleans()):
            days[day] = [f"{a}-{b}"]
    tenant = make_tenant(
        timezone=draw(st.sampled_from(ZONES)),
        hours=week(**days),
        holidays=draw(st.sampled_from([None, HolidayRule("DE", "BY")])),
    )
    # Instants around 2026 including both DST change weekends of each hemisphere.
    seconds = draw(st.integers(0, 366 * 86400))
    return tenant, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


@settings(max_examples=300, deadline=None)
@given(tenants_and_instants())
def test_next_opening_is_the_first_open_instant(case: tuple[object, datetime]) -> None:
    tenant, when = case
    assert isinstance(tenant, type(make_tenant()))
    opening = next_opening(tenant, when)
    if opening is None:
        assert not any(tenant.hours)
        return
    assert opening >= when
    assert status_at(tenant, opening).is_open
    if opening > when:  # the instant before was closed: it really is an opening
        assert not status_at(tenant, opening - timedelta(seconds=1)).is_open
        assert not status_at(tenant, when).is_open
        # Nothing earlier opens: check every half-hour mark in between (hours are given in
        # half hours and every zone here has whole-hour offsets), up to three days.
        mark = when.replace(minute=30 if when.minute >= 30 else 0, second=0, microsecond=0)
        mark += timedelta(minutes=30)
        while mark < min(opening, when + timedelta(days=3)):
            assert not status_at(tenant, mark).is_open, mark
            mark += timedelta(minutes=30)
