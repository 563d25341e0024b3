"""Today's numbers for the wallboard, from the call rows (the same rows controlling counts).

*Today* starts at local midnight of the server's time zone. Per queue (guide §5): offered =
calls that reached the queue, answered, abandoned (hung up while waiting; timeouts and
diversions are not abandons), answered within the queue's service-level threshold, and
abandons within the grace time (left out of the service level, as the wallboard's help text
says). Callback requests pending per queue, and how many of them wait longer than
``overdue_after``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from callcenter.callbacks.models import CallbackRequest
from callcenter.db.models import Call, Tenant
from callcenter.db.session import Database
from dashboards.push import Today
from dashboards.views import TodayStats

ABANDONED_SHOWN = 50


def local_midnight(now: datetime) -> datetime:
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def aggregate(
    rows: list[tuple[str, str, float | None]],
    threshold: Callable[[str], float],
    grace: float,
) -> dict[str, TodayStats]:
    """``(queue, outcome, wait)`` rows → per-queue :class:`TodayStats` (pure)."""
    counts: dict[str, list[int]] = {}
    for queue, outcome, wait in rows:
        c = counts.setdefault(queue, [0, 0, 0, 0, 0])
        c[0] += 1
        if outcome == "answered":
            c[1] += 1
            if wait is not None and wait <= threshold(queue):
                c[3] += 1
        elif outcome == "abandoned":
            c[2] += 1
            if wait is not None and wait < grace:
                c[4] += 1
    return {q: TodayStats(*c) for q, c in counts.items()}


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
                await session.execute(
                    select(Call.queue, Call.outcome, Call.wait_seconds).where(
                        Call.entered_at >= since, Call.queue.is_not(None)
                    )
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
        per_queue = aggregate(
            [(str(q), str(o), w) for q, o, w in rows], self.service_level, self.grace
        )
        items: list[Mapping[str, Any]] = [
            {
                "id": i,
                "tenant": t,
                "tenant_name": n,
                "caller": c,
                "queue": q,
                "wait": w,
                "ended_at": e.timestamp(),
            }
            for i, t, n, c, q, w, e in abandoned
        ]
        pending = {str(q): (int(n), int(o or 0)) for q, n, o in callbacks}
        return Today(per_queue=per_queue, abandoned=items, callbacks=pending, tenant_ids=tenant_ids)
