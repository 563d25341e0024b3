"""Reports per tenant, queue and receptionist for a period, read from the rollups.

Every figure comes from :mod:`stats.definitions` over summed rollup counters, so the report,
the billing export and the live "today" figures cannot disagree. Heatmap (local weekday ×
hour) and trend (per local day, or per hour for a one-day period) are built from the
tenant-grain buckets; the list of abandoned calls comes from the call rows themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.db.models import Call, Tenant, UTCDateTime
from callcenter.db.session import Database
from stats.definitions import COUNTER_NAMES, HELP, Counters, Settings, facts, figures
from stats.models import StatsDaily, StatsRollup
from stats.pauses import PauseTime, pause_times
from stats.period import Period, zone
from stats.reconcile import stored_queue_log
from stats.rollups import settings_for

# Other features' tables, read by name: stats depends on their schema, not their code.
_CALLBACKS = table(
    "callback_requests",
    column("id"),
    column("tenant_id"),
    column("requested_at", UTCDateTime),
    column("status"),
    column("done_at", UTCDateTime),
)
_ATTEMPTS = table(
    "callback_attempts",
    column("request_id"),
    column("started_at", UTCDateTime),
    column("outcome"),
)
_NOTES = table("crm_notes", column("tenant_id"), column("taken_at", UTCDateTime))
_VOICEMAILS = table(
    "voicemails",
    column("tenant_id"),
    column("created_at", UTCDateTime),
    column("status"),
    column("handled_at", UTCDateTime),
)

_SUMS = [
    (func.max(getattr(StatsDaily, n)) if n == "wait_max" else func.sum(getattr(StatsDaily, n)))
    for n in COUNTER_NAMES
]


def _days(period: Period) -> list[ColumnElement[bool]]:
    return [StatsDaily.day >= period.first, StatsDaily.day <= period.last]


class UnknownTenant(LookupError):
    pass


async def tenant_zone(session: AsyncSession, tenant_id: int) -> tuple[str, ZoneInfo]:
    """``(name, time zone)`` of a tenant; :class:`UnknownTenant` if there is none."""
    query = select(Tenant.name, Tenant.timezone).where(Tenant.id == tenant_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise UnknownTenant(f"tenant {tenant_id}")
    return row[0], zone(row[1])


def _counters(values: Sequence[Any]) -> Counters:
    return Counters.from_mapping({n: (v or 0) for n, v in zip(COUNTER_NAMES, values, strict=True)})


async def by_key(
    session: AsyncSession, tenant_id: int, grain: str, period: Period
) -> dict[str, Counters]:
    query = (
        select(StatsDaily.key, *_SUMS)
        .where(StatsDaily.tenant_key == tenant_id, StatsDaily.grain == grain, *_days(period))
        .group_by(StatsDaily.key)
        .order_by(StatsDaily.key)
    )
    return {row[0]: _counters(row[1:]) for row in await session.execute(query)}


async def totals(session: AsyncSession, tenant_id: int, period: Period) -> Counters:
    """The tenant-grain counters of the period, summed by the database."""
    query = select(*_SUMS).where(
        StatsDaily.tenant_key == tenant_id,
        StatsDaily.grain == "tenant",
        StatsDaily.key == "",
        *_days(period),
    )
    row = (await session.execute(query)).one()
    return _counters(row)


async def series(
    session: AsyncSession, tenant_id: int, period: Period, names: Sequence[str]
) -> list[tuple[datetime, tuple[float, ...]]]:
    """``(bucket, values of names)`` of the tenant grain, for heatmaps, trends, days."""
    cols = [getattr(StatsRollup, n) for n in names]
    query = select(StatsRollup.bucket, *cols).where(
        StatsRollup.tenant_key == tenant_id,
        StatsRollup.grain == "tenant",
        StatsRollup.key == "",
        StatsRollup.bucket >= period.start,
        StatsRollup.bucket < period.end,
    )
    return [(row[0], tuple(row[1:])) for row in await session.execute(query)]


async def daily(
    session: AsyncSession, tenant_id: int, period: Period, names: Sequence[str]
) -> dict[date, tuple[float, ...]]:
    """The tenant grain's values of ``names`` per local day of the period."""
    cols = [getattr(StatsDaily, n) for n in names]
    query = select(StatsDaily.day, *cols).where(
        StatsDaily.tenant_key == tenant_id,
        StatsDaily.grain == "tenant",
        StatsDaily.key == "",
        *_days(period),
    )
    return {row[0]: tuple(row[1:]) for row in await session.execute(query)}


def per_local(
    rows: list[tuple[datetime, tuple[float, ...]]], period: Period, fmt: str
) -> dict[str, list[float]]:
    """Sum series rows per local time label (``strftime`` format, e.g. ``%Y-%m-%d``)."""
    out: dict[str, list[float]] = {}
    for at, values in rows:
        label = at.astimezone(period.tz).strftime(fmt)
        slot = out.get(label)
        if slot is None:
            out[label] = list(values)
        else:
            for i, v in enumerate(values):
                slot[i] += v
    return out


async def callback_counts(session: AsyncSession, tenant_id: int, period: Period) -> dict[str, Any]:
    """Callback requests of the period by status (requested = all of them), and the time
    from request to a completed callback (seconds, mean and longest)."""
    rows = await session.execute(
        select(_CALLBACKS.c.status, _CALLBACKS.c.requested_at, _CALLBACKS.c.done_at).where(
            _CALLBACKS.c.tenant_id == tenant_id,
            _CALLBACKS.c.requested_at >= period.start,
            _CALLBACKS.c.requested_at < period.end,
        )
    )
    by_status: dict[str, int] = {}
    delays: list[float] = []
    for status, requested, done in rows:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
        if status == "done" and done is not None and requested is not None:
            delays.append((done - requested).total_seconds())
    return {
        "requested": sum(by_status.values()),
        "completed": by_status.get("done", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0) + by_status.get("dialling", 0),
        "cancelled": by_status.get("cancelled", 0),
        "time_to_callback": round(sum(delays) / len(delays), 1) if delays else None,
        "longest_time_to_callback": round(max(delays), 1) if delays else None,
        **await callback_attempt_counts(session, tenant_id, period),
    }


async def callback_attempt_counts(
    session: AsyncSession, tenant_id: int, period: Period
) -> dict[str, int]:
    """Dials of the tenant's callback customers started in the period: all of them,
    reached (answered; customer first: confirmed with 1) and failed (ended unreached: no
    answer, busy, failed, answering machine, interrupted); one still ringing is neither."""
    a, r = _ATTEMPTS.c, _CALLBACKS.c
    rows = await session.execute(
        select(a.outcome, func.count())
        .select_from(_ATTEMPTS.join(_CALLBACKS, a.request_id == r.id))
        .where(r.tenant_id == tenant_id, a.started_at >= period.start, a.started_at < period.end)
        .group_by(a.outcome)
    )
    by_outcome = {outcome: int(n) for outcome, n in rows}
    reached = by_outcome.get("answered", 0)
    return {
        "attempts": sum(by_outcome.values()),
        "attempts_reached": reached,
        "attempts_failed": sum(n for o, n in by_outcome.items() if o not in (None, "answered")),
        "attempts_machine": by_outcome.get("machine", 0),
    }


async def note_count(session: AsyncSession, tenant_id: int, period: Period) -> int:
    n = await session.scalar(
        select(func.count()).where(
            _NOTES.c.tenant_id == tenant_id,
            _NOTES.c.taken_at >= period.start,
            _NOTES.c.taken_at < period.end,
        )
    )
    return int(n or 0)


_TREND = (
    "offered",
    "answered",
    "abandoned",
    "abandoned_short",
    "answered_in_sl",
    "wait_answered",
)


async def voicemail_counts(session: AsyncSession, tenant_id: int, period: Period) -> dict[str, int]:
    """Messages left in the period (``stored``: with audio; ``empty``: silent or too short)
    and how many of the stored ones a receptionist has handled."""
    rows = await session.execute(
        select(_VOICEMAILS.c.status, _VOICEMAILS.c.handled_at).where(
            _VOICEMAILS.c.tenant_id == tenant_id,
            _VOICEMAILS.c.created_at >= period.start,
            _VOICEMAILS.c.created_at < period.end,
        )
    )
    out = {"messages": 0, "empty": 0, "lost": 0, "handled": 0}
    for status, handled in rows:
        if status in ("stored", "recording"):
            out["messages"] += 1
            out["handled"] += handled is not None
        elif status in ("empty", "lost"):
            out[str(status)] += 1
    return out


def _heatmap(rows: list[tuple[datetime, tuple[float, ...]]], period: Period) -> dict[str, Any]:
    offered = [[0] * 24 for _ in range(7)]
    answered = [[0] * 24 for _ in range(7)]
    for label, (o, a, *_) in per_local(rows, period, "%w %H").items():
        weekday, hour = (int(x) for x in label.split())
        day = (weekday - 1) % 7  # strftime %w: Sunday is 0; rows start on Monday
        offered[day][hour] += int(o)
        answered[day][hour] += int(a)
    return {
        "rows": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "columns": list(range(24)),
        "offered": offered,
        "answered": answered,
    }


def _trend(slots: Mapping[str, Sequence[float]]) -> list[dict[str, Any]]:
    out = []
    for label, values in sorted(slots.items()):
        f = figures(Counters.from_mapping(dict(zip(_TREND, values, strict=True))))
        out.append(
            {
                "at": label,
                "offered": f.counters["offered"],
                "answered": f.counters["answered"],
                "abandoned": f.counters["abandoned"],
                "service_level": f.service_level,
                "asa": f.asa,
            }
        )
    return out


def _settings_dict(s: Settings) -> dict[str, int]:
    return {
        "service_level_seconds": s.service_level_seconds,
        "short_abandon_seconds": s.short_abandon_seconds,
        "billable_after_seconds": s.billable_after_seconds,
        "wrapup_seconds": s.wrapup_seconds,
    }


async def tenant_report(db: Database, tenant_id: int, period: Period) -> dict[str, Any]:
    """The whole report of one tenant: totals, queues, receptionists, heatmap, trend."""
    async with db.session() as session:
        name, _ = await tenant_zone(session, tenant_id)
        settings = await settings_for(session, tenant_id)
        total = await totals(session, tenant_id, period)
        rows = await series(session, tenant_id, period, _TREND)  # 15-minute rows
        if period.days == 1:
            slots = per_local(rows, period, "%Y-%m-%dT%H:00")
        else:
            per_day = await daily(session, tenant_id, period, _TREND)
            slots = {d.isoformat(): list(v) for d, v in per_day.items()}
        queues = await by_key(session, tenant_id, "queue", period)
        agents = await by_key(session, tenant_id, "agent", period)
        callbacks = await callback_counts(session, tenant_id, period)
        notes = await note_count(session, tenant_id, period)
        voicemails = await voicemail_counts(session, tenant_id, period)
    return {
        "tenant": {"id": tenant_id, "name": name},
        "period": period.as_dict(),
        "settings": _settings_dict(settings),
        "totals": figures(total).as_dict(),
        "callbacks": callbacks,
        "notes": notes,
        "voicemails": voicemails,
        "queues": {k: figures(c).as_dict() for k, c in queues.items()},
        "receptionists": {k: figures(c).as_dict() for k, c in agents.items()},
        "heatmap": _heatmap(rows, period),
        "trend": _trend(slots),
        "definitions": HELP,
    }


async def receptionist_report(
    db: Database, period: Period, billable_pauses: frozenset[str] = frozenset({"wrapup"})
) -> dict[str, Any]:
    """Each receptionist's answered calls over every tenant (the secretariat's own view),
    and their pauses from the PBX's queue_log (billable reasons: ``billable_pauses``)."""
    query = (
        select(StatsDaily.key, StatsDaily.tenant_key, *_SUMS)
        .where(StatsDaily.grain == "agent", *_days(period))
        .group_by(StatsDaily.key, StatsDaily.tenant_key)
    )
    people: dict[str, Counters] = {}
    per_tenant: dict[str, dict[str, int]] = {}
    async with db.session() as session:
        for row in await session.execute(query):
            c = _counters(row[2:])
            people.setdefault(row[0], Counters()).add(c)
            per_tenant.setdefault(row[0], {})[str(row[1])] = c.answered
    # Pauses begun up to 12 h before the period still count from its start.
    lines = await stored_queue_log(db, period.start - timedelta(hours=12), period.end)
    paused = pause_times(lines, period.start.timestamp(), period.end.timestamp(), billable_pauses)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(people) | set(paused)):
        c = people.get(name, Counters())
        out[name] = {
            **figures(c).as_dict(),
            "answered_per_tenant": per_tenant.get(name, {}),
            "pauses": paused.get(name, PauseTime()).as_dict(),
        }
    return {
        "period": period.as_dict(),
        "billable_pauses": sorted(billable_pauses),
        "receptionists": out,
        "definitions": HELP,
    }


async def abandoned_calls(
    db: Database, tenant_id: int, period: Period, *, limit: int = 1000
) -> list[dict[str, Any]]:
    """The abandoned calls of the period, oldest first (supervisors want the list)."""
    async with db.session() as session:
        settings = await settings_for(session, tenant_id)
        rows = (
            await session.scalars(
                select(Call)
                .where(
                    Call.tenant_id == tenant_id,
                    Call.outcome == "abandoned",
                    Call.entered_at >= period.start,
                    Call.entered_at < period.end,
                )
                .order_by(Call.entered_at, Call.id)
                .limit(limit)
            )
        ).all()
    out = []
    for row in rows:
        record = row.to_record()
        f = facts(record)
        out.append(
            {
                "linkedid": record.linkedid,
                "entered_at": record.entered_at.isoformat(),
                "caller": record.caller,
                "caller_name": record.caller_name,
                "did": record.did,
                "queue": record.queue,
                "queues": [leg.queue for leg in f.legs],
                "wait": round(f.wait, 2),
                "short": f.wait < settings.short_abandon_seconds,
                "position": record.extra.get("abandon_position"),
            }
        )
    return out
