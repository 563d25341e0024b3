"""Rollups: 15-minute counters per tenant, queue and receptionist, kept current as calls end.

Rule of this module: a rollup bucket is always *recomputed* from the call rows of that
tenant and quarter hour, never incremented. A call row is an upsert (the same call may be
stored twice after a resync), so increments would double count; recomputing one bucket
(typically tens of calls) is idempotent, and the rebuild command is the same code run over
a longer range (ADR 0009).

:class:`RollupUpdater` collects the buckets touched by finished calls and recomputes each
once, in one task, so two calls ending together cannot overwrite each other's figures. It
learns of stored calls through ``services.call_stored`` (stats/plugin.py): the live state's
sink (``callcenter.services.ObservedCalls``) and the queue_log reconciler report there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.db.models import Call, Tenant
from callcenter.db.session import Database
from callcenter.state.records import CallRecord
from stats.definitions import COUNTER_NAMES, Counters, Grain, Settings, contributions
from stats.models import BUCKET_SECONDS, StatsDaily, StatsRollup, StatsSettings
from stats.period import zone

log = logging.getLogger(__name__)

BUCKET = timedelta(seconds=BUCKET_SECONDS)
_RECORD_COLUMNS = tuple(
    getattr(Call, f.name) for f in dataclasses.fields(CallRecord) if f.name != "tenant"
)
RollupKey = tuple[Grain, str, datetime]  # grain, key, bucket start


def bucket_of(at: datetime) -> datetime:
    """Start of the 15-minute UTC bucket holding ``at`` (the call's entry time)."""
    ts = int(at.timestamp())
    return datetime.fromtimestamp(ts - ts % BUCKET_SECONDS, UTC)


def aggregate(records: Iterable[CallRecord], settings: Settings) -> dict[RollupKey, Counters]:
    """Sum the contributions of ``records`` per (grain, key, bucket). Pure."""
    out: dict[RollupKey, Counters] = {}
    for record in records:
        bucket = bucket_of(record.entered_at)
        for grain, key, counters in contributions(record, settings):
            slot = out.get((grain, key, bucket))
            if slot is None:
                out[(grain, key, bucket)] = counters
            else:
                slot.add(counters)
    return out


async def settings_for(session: AsyncSession, tenant_id: int | None) -> Settings:
    """The tenant's thresholds (defaults when it has none stored)."""
    if tenant_id is None:
        return Settings()
    row = await session.get(StatsSettings, tenant_id)
    if row is None:
        return Settings()
    return Settings(
        service_level_seconds=row.service_level_seconds,
        short_abandon_seconds=row.short_abandon_seconds,
        billable_after_seconds=row.billable_after_seconds,
        wrapup_seconds=row.wrapup_seconds,
    )


async def save_settings(db: Database, tenant_id: int, settings: Settings) -> None:
    """Store a tenant's thresholds (rebuild its rollups afterwards to apply them)."""
    settings.validate()
    values = {
        "tenant_id": tenant_id,
        "service_level_seconds": settings.service_level_seconds,
        "short_abandon_seconds": settings.short_abandon_seconds,
        "billable_after_seconds": settings.billable_after_seconds,
        "wrapup_seconds": settings.wrapup_seconds,
    }
    stmt = db.insert(StatsSettings).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StatsSettings.tenant_id],
        set_={k: stmt.excluded[k] for k in values if k != "tenant_id"},
    )
    async with db.session() as session:
        await session.execute(stmt)


def _tenant_filter(tenant_key: int) -> ColumnElement[bool]:
    return Call.tenant_id.is_(None) if tenant_key == 0 else Call.tenant_id == tenant_key


async def recompute(session: AsyncSession, tenant_key: int, start: datetime, end: datetime) -> int:
    """Replace the rollups of one tenant (``0``: unknown tenant) for buckets in
    ``[start, end)`` (bucket-aligned) with sums over its call rows; returns calls read."""
    if session.get_bind().dialect.name == "postgresql":
        # One recompute per tenant at a time across app instances (transaction-scoped).
        await session.execute(text("SELECT pg_advisory_xact_lock(913, :k)"), {"k": tenant_key})
    settings = await settings_for(session, tenant_key or None)
    # Plain columns, not ORM objects: a month's rebuild reads every row once.
    query = (
        select(*_RECORD_COLUMNS)
        .where(_tenant_filter(tenant_key), Call.entered_at >= start, Call.entered_at < end)
        .execution_options(yield_per=5000)
    )
    counted = 0
    totals: dict[RollupKey, Counters] = {}
    async for row in await session.stream(query):
        counted += 1
        record = CallRecord(**row._mapping)
        bucket = bucket_of(record.entered_at)
        for grain, key, counters in contributions(record, settings):
            slot = totals.get((grain, key, bucket))
            if slot is None:
                totals[(grain, key, bucket)] = counters
            else:
                slot.add(counters)
    await session.execute(
        delete(StatsRollup).where(
            StatsRollup.tenant_key == tenant_key,
            StatsRollup.bucket >= start,
            StatsRollup.bucket < end,
        )
    )
    rows = [
        {"tenant_key": tenant_key, "grain": g, "key": k, "bucket": b, **c.as_dict()}
        for (g, k, b), c in totals.items()
    ]
    for i in range(0, len(rows), 2000):
        await session.execute(insert(StatsRollup), rows[i : i + 2000])
    tz = await tenant_tz(session, tenant_key)
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    day = first
    while day <= last:
        await _recompute_day(session, tenant_key, day, tz)
        day += timedelta(days=1)
    return counted


async def tenant_tz(session: AsyncSession, tenant_key: int) -> ZoneInfo:
    """The tenant's time zone (its local days); UTC for calls without a tenant."""
    if tenant_key == 0:
        return ZoneInfo("UTC")
    name = await session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_key))
    return zone(name or "UTC")


_SUMS = [
    func.max(getattr(StatsRollup, n)) if n == "wait_max" else func.sum(getattr(StatsRollup, n))
    for n in COUNTER_NAMES
]


async def _recompute_day(session: AsyncSession, tenant_key: int, day: date, tz: ZoneInfo) -> None:
    """The daily rows of one local day = sums of that day's 15-minute rows, per grain/key."""
    lo = datetime.combine(day, time(0), tz).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
    found = await session.execute(
        select(StatsRollup.grain, StatsRollup.key, *_SUMS)
        .where(
            StatsRollup.tenant_key == tenant_key,
            StatsRollup.bucket >= lo,
            StatsRollup.bucket < hi,
        )
        .group_by(StatsRollup.grain, StatsRollup.key)
    )
    rows = [
        {
            "tenant_key": tenant_key,
            "grain": grain,
            "key": key,
            "day": day,
            **dict(zip(COUNTER_NAMES, values, strict=True)),
        }
        for grain, key, *values in found
    ]
    await session.execute(
        delete(StatsDaily).where(StatsDaily.tenant_key == tenant_key, StatsDaily.day == day)
    )
    if rows:
        await session.execute(insert(StatsDaily), rows)


async def rebuild(
    db: Database, start: datetime, end: datetime, tenant_ids: Sequence[int] | None = None
) -> int:
    """Recompute every bucket of ``[start, end)`` (rounded out to buckets), day by day, for
    the given tenants (default: every tenant with calls, and calls without a tenant)."""
    start = bucket_of(start)
    end = bucket_of(end - timedelta(microseconds=1)) + BUCKET if end > start else start
    if tenant_ids is None:
        async with db.session() as session:
            found = await session.scalars(
                select(Call.tenant_id)
                .where(Call.entered_at >= start, Call.entered_at < end)
                .distinct()
            )
            keys = sorted({t or 0 for t in found})
            old = await session.scalars(
                select(StatsRollup.tenant_key)
                .where(StatsRollup.bucket >= start, StatsRollup.bucket < end)
                .distinct()
            )
            keys = sorted(set(keys) | set(old))
    else:
        keys = list(tenant_ids)
    total = 0
    for key in keys:
        async with db.session() as session:
            tz = await tenant_tz(session, key)
        # Local days of the tenant, so that each day's daily rows are summed once.
        day = start
        while day < end:
            local = day.astimezone(tz)
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tz)
            stop = min(end, max(day + BUCKET, bucket_of(midnight.astimezone(UTC))))
            async with db.session() as session:
                total += await recompute(session, key, day, stop)
            day = stop
    return total


@dataclass(frozen=True, slots=True)
class _Dirty:
    tenant_key: int
    bucket: datetime


class RollupUpdater:
    """Recomputes the buckets of finished calls, coalescing bursts, in one task."""

    def __init__(self, db: Database, *, delay: float = 0.2) -> None:
        self._db = db
        self._delay = delay  # gather the calls of a burst into one recompute per bucket
        self._pending: set[str] = set()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.recomputed = 0  # buckets recomputed (for /metrics and tests)

    def call_stored(self, linkedid: str) -> None:
        self._pending.add(linkedid)
        self._idle.clear()
        self._ready.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stats-rollups")

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await self.flush(5.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every stored call so far is in the rollups."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def apply(self, linkedids: Iterable[str]) -> int:
        """Recompute the buckets of these stored calls now; returns buckets recomputed."""
        ids = list(linkedids)
        async with self._db.session() as session:
            found = await session.execute(
                select(Call.tenant_id, Call.entered_at).where(Call.linkedid.in_(ids))
            )
            dirty = {_Dirty(t or 0, bucket_of(at)) for t, at in found}
        for d in sorted(dirty, key=lambda d: (d.tenant_key, d.bucket)):
            async with self._db.session() as session:
                await recompute(session, d.tenant_key, d.bucket, d.bucket + BUCKET)
        self.recomputed += len(dirty)
        return len(dirty)

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            await asyncio.sleep(self._delay)
            self._ready.clear()
            batch, self._pending = self._pending, set()
            try:
                await self.apply(batch)
            except Exception:
                # The rows are stored; only derived figures are late. Retry the batch.
                log.exception("stats: rollup update failed; retrying in 1 s")
                self._pending |= batch
                await asyncio.sleep(1.0)
                self._ready.set()
                continue
            if not self._pending:
                self._idle.set()
