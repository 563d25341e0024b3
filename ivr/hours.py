"""Open / closed / holiday / emergency at an instant, and the next opening: pure functions.

Opening hours are wall-clock times in the tenant's zone. ``status_at`` converts the instant
to local time and compares wall clocks, so on the night clocks fall back an interval over
02:00–03:00 is open both times the hour passes, and on the night they spring forward an
interval that starts inside the missing hour opens at the first existing instant after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ivr.holidays import holiday_name
from ivr.tenancy import Tenant

StatusKind = Literal["open", "closed", "holiday", "emergency"]
HORIZON_DAYS = 400  # next_opening gives up after this: a tenant that never opens


@dataclass(frozen=True, slots=True)
class OpenStatus:
    """Whether the tenant is open; ``reason`` names the holiday or closure where known."""

    kind: StatusKind
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.kind == "open"


OPEN = OpenStatus("open")
CLOSED = OpenStatus("closed")


def _require_aware(when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware instant, got naive {when.isoformat()}")


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant a naive local wall time denotes.

    Ambiguous times (clocks fall back) give the first occurrence; times that do not exist
    (clocks spring forward) give the instant the gap ends, which is when a wall clock first
    shows a time at or after ``local``.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return min(first, second)  # ambiguous: both exist
    # Non-existent: the transition lies between the two readings; find it by bisection.
    low, high = min(first, second), max(first, second)
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= local:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def status_at(tenant: Tenant, when_utc: datetime) -> OpenStatus:
    """Open, closed (hours or a tenant closure), holiday(name) or emergency at ``when_utc``."""
    _require_aware(when_utc)
    if tenant.emergency_closed:
        return OpenStatus("emergency")
    zone = tenant.zone
    for closure in tenant.closures:
        if to_utc(closure.start, zone) <= when_utc < to_utc(closure.end, zone):
            return OpenStatus("closed", closure.reason)
    local = when_utc.astimezone(zone)
    if tenant.holidays is not None:
        name = holiday_name(tenant.holidays, local.date())
        if name is not None:
            return OpenStatus("holiday", name)
    second = local.hour * 3600 + local.minute * 60 + local.second
    if any(iv.contains(second) for iv in tenant.hours[local.weekday()]):
        return OPEN
    return CLOSED


def next_opening(tenant: Tenant, when_utc: datetime) -> datetime | None:
    """The earliest instant at or after ``when_utc`` at which the tenant is open (UTC).

    None during an emergency closure (it has no known end) or if the tenant does not open
    within :data:`HORIZON_DAYS`.
    """
    _require_aware(when_utc)
    when_utc = when_utc.astimezone(UTC)
    if tenant.emergency_closed:
        return None
    if status_at(tenant, when_utc).is_open:
        return when_utc
    zone = tenant.zone
    # Openings happen only at an interval start or when a closure ends (mid-interval).
    closure_ends = sorted(to_utc(c.end, zone) for c in tenant.closures)
    start_day = when_utc.astimezone(zone).date()
    for offset in range(HORIZON_DAYS + 1):
        day = start_day + timedelta(days=offset)
        candidates = [to_utc(_at(day, iv.start), zone) for iv in tenant.hours[day.weekday()]]
        day_start = to_utc(_at(day, 0), zone)
        day_end = to_utc(_at(day + timedelta(days=1), 0), zone)
        candidates += [end for end in closure_ends if day_start <= end < day_end]
        for candidate in sorted(candidates):
            if candidate >= when_utc and status_at(tenant, candidate).is_open:
                return candidate
    return None


def _at(day: date, second_of_day: int) -> datetime:
    return datetime.combine(day, time()) + timedelta(seconds=second_of_day)
