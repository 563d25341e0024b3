"""Opening hours, holidays and closures of a tenant file (part of :mod:`ivr.loader`).

- Overlapping or touching opening intervals of one day are merged (with a warning), since
  "08:00-12:00" and "11:00-14:00" can only mean 08:00–14:00. Malformed times are faults.
- Intervals do not cross midnight; ``24:00`` is allowed as an end.
- Closures given as dates include the ``to`` day; closures given as local date-times end
  at ``to`` (exclusive).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from ivr.document import Doc
from ivr.holidays import check_rule
from ivr.tenancy import (
    WEEKDAYS,
    Closure,
    HolidayRule,
    Interval,
)

TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")


def _clock(doc: Doc, text: str, path: str, is_end: bool) -> int | None:
    match = TIME_RE.match(text.strip())
    if not match:
        doc.fault(path, f"malformed time {text!r} (expected HH:MM)")
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if (hour, minute) == (24, 0) and is_end:
        return 86400
    if hour > 23 or minute > 59:
        doc.fault(path, f"time {text!r} out of range (00:00–23:59, 24:00 only as an end)")
        return None
    return hour * 3600 + minute * 60


def parse_hours(
    doc: Doc, table: dict[str, Any], where: str = "hours"
) -> tuple[tuple[Interval, ...], ...]:
    """A week of intervals; ``where`` is the table's path (``hours``, ``callbacks.hours``)."""
    doc.unknown_keys(table, WEEKDAYS, where)
    week: list[tuple[Interval, ...]] = []
    for day in WEEKDAYS:
        intervals: list[Interval] = []
        for i, spec in enumerate(doc.str_list(table, day, where)):
            path = f"{where}.{day}.{i}"
            start_text, sep, end_text = spec.partition("-")
            if not sep:
                doc.fault(path, f"malformed interval {spec!r} (expected HH:MM-HH:MM)")
                continue
            start = _clock(doc, start_text, path, is_end=False)
            end = _clock(doc, end_text, path, is_end=True)
            if start is None or end is None:
                continue
            if end <= start:
                doc.fault(path, f"interval {spec!r} ends before it starts (split it at 24:00)")
                continue
            intervals.append(Interval(start, end))
        week.append(_merge(doc, intervals, f"{where}.{day}"))
    return tuple(week)


def _merge(doc: Doc, intervals: list[Interval], path: str) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    overlapped = False
    for iv in sorted(intervals, key=lambda x: x.start):
        if merged and iv.start <= merged[-1].end:
            overlapped = overlapped or iv.start < merged[-1].end
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, iv.end))
        else:
            merged.append(iv)
    if overlapped:
        doc.warn(path, "overlapping intervals merged")
    return tuple(merged)


def parse_holidays(doc: Doc, raw: dict[str, Any]) -> HolidayRule | None:
    if "holidays" not in raw:
        return None
    table = doc.table(raw, "holidays", "")
    doc.unknown_keys(table, ("country", "state", "open_on"), "holidays")
    country = doc.get(table, "country", "holidays", str, "DE") or "DE"
    state = doc.get(table, "state", "holidays", str, None)
    open_on = frozenset(doc.str_list(table, "open_on", "holidays"))
    problem = check_rule(country, state)
    if problem:
        doc.fault("holidays.state" if state else "holidays.country", problem)
    return HolidayRule(country, state, open_on)


def _moment(doc: Doc, value: Any, path: str, is_end: bool) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            doc.fault(path, f"malformed date {value!r} (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
            return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            doc.fault(path, "give local time without offset (the tenant's time zone applies)")
            return None
        return value
    if isinstance(value, date):
        start = datetime.combine(value, time())
        return start + timedelta(days=1) if is_end else start
    doc.fault(path, f"expected a date or local date-time, got {value!r}")
    return None


def parse_closures(doc: Doc, raw: dict[str, Any]) -> tuple[Closure, ...]:
    out: list[Closure] = []
    for i, item in enumerate(doc.get(raw, "closures", "", list, []) or []):
        path = f"closures.{i}"
        if not isinstance(item, dict):
            doc.fault(path, "expected a table with from, to, reason")
            continue
        doc.unknown_keys(item, ("from", "to", "reason"), path)
        if "from" not in item or "to" not in item:
            doc.fault(path, "needs both 'from' and 'to'")
            continue
        start = _moment(doc, item["from"], f"{path}.from", is_end=False)
        end = _moment(doc, item["to"], f"{path}.to", is_end=True)
        reason = doc.get(item, "reason", path, str, "") or ""
        if start is None or end is None:
            continue
        if end <= start:
            doc.fault(path, "'to' is before 'from'")
            continue
        out.append(Closure(start, end, reason))
    return tuple(out)
