"""Today's numbers for the wallboard, from the call rows (the same rows controlling counts).

*Today* starts at local midnight of the server's time zone. Per queue, with controlling's
definitions (stats.definitions, guide §5): offered = legs that reached the queue, answered,
abandoned (hung up while waiting; timeouts and diversions are not abandons), answered
within the queue's service-level threshold, and abandons within the grace time (left out
of the service level, as the wallboard's help text says). Callback requests pending per
queue, and how many of them wait longer than ``overdue_after``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from callbacks.models import CallbackRequest
from callcenter.db.models import Agent, Call, Tenant
from callcenter.db.session import Database
from callcenter.state.records import CallRecord
from dashboards.push import Today
from dashboards.views import TodayStats
from stats.definitions import Settings, facts, leg_counters

ABANDONED_SHOWN = 50


def local_midnight(now: datetime) -> datetime:
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def aggregate(
    records: Iterable[CallRecord],
    threshold: Callable[[str], float],
    grace: float,
) -> dict[str, TodayStats]:
    """Call rows → per-queue :class:`TodayStats` (pure), with controlling's definitions
    (stats.definitions): each queue counts its own leg of a call (an overflow is a timeout
    in the first queue and an answer in the second), callbacks are never abandons."""
    counts: dict[str, TodayStats] = {}
    for record in records:
        if record.extra.get("callback_leg"):
            continue  # the dialler's own legs: the caller was counted once already
        f = facts(record)
        for leg in f.legs:
            settings = Settings(
                service_level_seconds=int(threshold(leg.queue)),
                short_abandon_seconds=int(grace),
            )
            c = leg_counters(leg, f, settings)
            stats = TodayStats(
                c.offered, c.answered, c.abandoned, c.answered_in_sl, c.abandoned_short
            )
            counts[leg.queue] = counts.get(leg.queue, TodayStats()).plus(stats)
    return counts


class TodayLoader:
    """Loads :class:`Today` from the database (called by the hub every few seconds)."""

    def __init__(
        self,
        database: Database,
        service_level: Callable[[str], float],
        *,
        grace: float = 5.0,
        overdue_after: timedelta = timedelta(minutes=30),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = database
        self.service_level = service_level
        self.grace = grace
        self.overdue_after = overdue_after
        self.clock = clock

    async def __call__(self) -> Today:
        now = self.clock()
        since = local_midnight(now)
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Call).where(Call.entered_at >= since, Call.queue.is_not(None))
                )
            ).all()
            abandoned = (
                await session.execute(
                    select(
                        Call.id,
                        Call.tenant,
                        Tenant.name,
                        Call.caller,
                        Call.queue,
                        Call.language,
                        Call.wait_seconds,
                        Call.ended_at,
                    )
                    .outerjoin(Tenant, Tenant.id == Call.tenant_id)
                    .where(Call.entered_at >= since, Call.outcome == "abandoned")
                    .order_by(Call.ended_at.desc())
                    .limit(ABANDONED_SHOWN)
                )
            ).all()
            callbacks = (
                await session.execute(
                    select(
                        CallbackRequest.queue,
                        func.count(),
                        func.sum(
                            case(
                                (CallbackRequest.requested_at < now - self.overdue_after, 1),
                                else_=0,
                            )
                        ),
                    )
                    .where(CallbackRequest.status == "pending")
                    .group_by(CallbackRequest.queue)
                )
            ).all()
            tenant_ids = {s: i for s, i in await session.execute(select(Tenant.slug, Tenant.id))}
            staff = {i: n for i, n in await session.execute(select(Agent.interface, Agent.name))}
        per_queue = aggregate([r.to_record() for r in rows], self.service_level, self.grace)
        items: list[Mapping[str, Any]] = [
            {
                "id": i,
                "tenant": t,
                "tenant_name": n,
                "caller": c,
                "queue": q,
                "language": lang,
                "wait": w,
                "ended_at": e.timestamp(),
            }
            for i, t, n, c, q, lang, w, e in abandoned
        ]
        pending = {str(q): (int(n), int(o or 0)) for q, n, o in callbacks}
        return Today(
            per_queue=per_queue,
            abandoned=items,
            callbacks=pending,
            tenant_ids=tenant_ids,
            staff=staff,
        )
