"""Report periods (day, week, month, custom) in the tenant's own time zone.

A period is a half-open UTC interval ``[start, end)`` computed from local calendar dates, so
a German tenant's "March" starts at local midnight on 1 March whatever the offset. Bad input
raises :class:`PeriodError` naming the field, which the API turns into a 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KINDS = ("day", "week", "month", "custom")
MAX_DAYS = 400


class PeriodError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    first: date  # first local day
    last: date  # last local day (inclusive)
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "timezone": self.tz.key,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


YEARS = range(1970, 9000)  # far from date.max: period ends are computed a day later


def _date(field: str, raw: str) -> date:
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(field, "must be a date YYYY-MM-DD") from None
    if value.year not in YEARS:
        raise PeriodError(field, "year out of range")
    return value


def _month(raw: str) -> date:
    try:
        year, month = raw.split("-")
        value = date(int(year), int(month), 1)
    except ValueError:
        raise PeriodError("month", "must be YYYY-MM") from None
    if value.year not in YEARS:
        raise PeriodError("month", "year out of range")
    return value


def parse_period(
    kind: str | None,
    tz: ZoneInfo,
    *,
    day: str | None = None,
    month: str | None = None,
    first: str | None = None,
    last: str | None = None,
    today: date | None = None,
) -> Period:
    """``day`` (``date``, default today), ``week`` (the ISO week holding ``date``), ``month``
    (``month=YYYY-MM`` or the month holding ``date``), ``custom`` (``from``, ``to``)."""
    kind = kind or "day"
    if kind not in KINDS:
        raise PeriodError("period", f"must be one of {', '.join(KINDS)}")
    today = today or datetime.now(tz).date()
    anchor = _date("date", day) if day else today
    if kind == "day":
        return Period(kind, anchor, anchor, tz)
    if kind == "week":
        monday = anchor - timedelta(days=anchor.weekday())
        return Period(kind, monday, monday + timedelta(days=6), tz)
    if kind == "month":
        start = _month(month) if month else anchor.replace(day=1)
        nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return Period(kind, start, nxt - timedelta(days=1), tz)
    if not first or not last:
        raise PeriodError("from" if not first else "to", "required for a custom period")
    a, b = _date("from", first), _date("to", last)
    if b < a:
        raise PeriodError("to", "must not be before from")
    if (b - a).days + 1 > MAX_DAYS:
        raise PeriodError("to", f"a custom period spans at most {MAX_DAYS} days")
    return Period(kind, a, b, tz)
