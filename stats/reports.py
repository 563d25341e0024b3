"""Reports per tenant, queue and receptionist for a period, read from the rollups.

Every figure comes from :mod:`stats.definitions` over summed rollup counters, so the report,
the billing export and the live "today" figures cannot disagree. Heatmap (local weekday ×
hour) and trend (per local day, or per hour for a one-day period) are built from the
tenant-grain buckets; the list of abandoned calls comes from the call rows themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Call, Tenant
from callcenter.db.session import Database
from stats.definitions import COUNTER_NAMES, HELP, Counters, Settings, facts, figures
from stats.models import StatsRollup
from stats.period import Period, zone
from stats.rollups import settings_for

# Other features' tables, read by name: stats depends on their schema, not their code.
_CALLBACKS = table(
    "callback_requests",
    column("tenant_id"),
    column("requested_at"),
    column("status"),
)
_NOTES = table("crm_notes", column("tenant_id"), column("taken_at"))

_SUMS = [
    (func.max(getattr(StatsRollup, n)) if n == "wait_max" else func.sum(getattr(StatsRollup, n)))
    for n in COUNTER_NAMES
]


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
        select(StatsRollup.key, *_SUMS)
        .where(
            StatsRollup.tenant_key == tenant_id,
            StatsRollup.grain == grain,
            StatsRollup.bucket >= period.start,
            StatsRollup.bucket < period.end,
        )
        .group_by(StatsRollup.key)
        .order_by(StatsRollup.key)
    )
    return {row[0]: _counters(row[1:]) for row in await session.execute(query)}


async def buckets(
    session: AsyncSession, tenant_id: int, period: Period
) -> list[tuple[datetime, Counters]]:
    cols = [getattr(StatsRollup, n) for n in COUNTER_NAMES]
    query = select(StatsRollup.bucket, *cols).where(
        StatsRollup.tenant_key == tenant_id,
        StatsRollup.grain == "tenant",
        StatsRollup.key == "",
        StatsRollup.bucket >= period.start,
        StatsRollup.bucket < period.end,
    )
    return [(row[0], _counters(row[1:])) for row in await session.execute(query)]


async def callback_counts(session: AsyncSession, tenant_id: int, period: Period) -> dict[str, int]:
    """Callback requests of the period by status (requested = all of them)."""
    rows = await session.execute(
        select(_CALLBACKS.c.status, func.count())
        .where(
            _CALLBACKS.c.tenant_id == tenant_id,
            _CALLBACKS.c.requested_at >= period.start,
            _CALLBACKS.c.requested_at < period.end,
        )
        .group_by(_CALLBACKS.c.status)
    )
    by_status = {str(s): int(n) for s, n in rows}
    return {
        "requested": sum(by_status.values()),
        "completed": by_status.get("done", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0) + by_status.get("dialling", 0),
        "cancelled": by_status.get("cancelled", 0),
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


def _heatmap(buckets: list[tuple[datetime, Counters]], period: Period) -> dict[str, Any]:
    offered = [[0] * 24 for _ in range(7)]
    answered = [[0] * 24 for _ in range(7)]
    for at, c in buckets:
        local = at.astimezone(period.tz)
        offered[local.weekday()][local.hour] += c.offered
        answered[local.weekday()][local.hour] += c.answered
    return {
        "rows": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "columns": list(range(24)),
        "offered": offered,
        "answered": answered,
    }


def _trend(buckets: list[tuple[datetime, Counters]], period: Period) -> list[dict[str, Any]]:
    hourly = period.days == 1
    slots: dict[str, Counters] = {}
    for at, c in buckets:
        local = at.astimezone(period.tz)
        label = local.strftime("%Y-%m-%dT%H:00") if hourly else local.date().isoformat()
        slots.setdefault(label, Counters()).add(c)
    out = []
    for label in sorted(slots):
        f = figures(slots[label])
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
        rows = await buckets(session, tenant_id, period)
        queues = await by_key(session, tenant_id, "queue", period)
        agents = await by_key(session, tenant_id, "agent", period)
        callbacks = await callback_counts(session, tenant_id, period)
        notes = await note_count(session, tenant_id, period)
    total = Counters()
    for _, c in rows:
        total.add(c)
    return {
        "tenant": {"id": tenant_id, "name": name},
        "period": period.as_dict(),
        "settings": _settings_dict(settings),
        "totals": figures(total).as_dict(),
        "callbacks": callbacks,
        "notes": notes,
        "queues": {k: figures(c).as_dict() for k, c in queues.items()},
        "receptionists": {k: figures(c).as_dict() for k, c in agents.items()},
        "heatmap": _heatmap(rows, period),
        "trend": _trend(rows, period),
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
