"""Callbacks assigned to one receptionist: offered to that receptionist only, until the
assignment's time (the tenant's ``assign_fallback``) runs out; then back to their place.

Why not through app_queue: app_queue offers a waiting caller to whichever member is free
next and has no way to keep one caller for one member. An assigned callback waiting at the
head of the shared queue would block every live caller behind it until its receptionist is
free. So while assigned it stays out of app_queue (the live callers' announcements do not
count it: it is not theirs to wait for) and, when the app learns that its receptionist is
free, the dialler rings that receptionist's interface itself (ARI originate into Stasis,
stage ``direct``) under the id a placeholder's ``;2`` would have (``cbq-<id>-<token>-b``), so
the rest is the usual path: answered (its StasisStart), the lease fence, ``callback.offered``,
ringing, the customer, the bridge; the receptionist hanging up ends the customer leg.
Unanswered within the ring time, the channel ends and the callback waits again (not an
attempt: the customer was never dialled). Once ``assigned_until`` passes,
:meth:`~.leases.LeaseStore.claim` places it into app_queue at its original virtual place
like any other.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select

from callbacks.dispatch import Job
from callbacks.leases import SERVICE_ORDER, LeaseStore, due_now
from callbacks.models import CallbackRequest

R = CallbackRequest
# What may reach Dial() as an interface: the PBX's own member interfaces look like these
# (PJSIP/anna, Local/agent1@agents/n); anything else is refused rather than dialled.
_INTERFACE = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.+@/-]{1,120}$")


def safe_interface(interface: str) -> str | None:
    return interface if _INTERFACE.match(interface) else None


async def claim_assigned(
    store: LeaseStore,
    now: datetime,
    free: Mapping[str, str],
    tenants: Collection[str] | None = None,
) -> list[tuple[Job, str]]:
    """For each free receptionist (name → interface) with due callbacks assigned to them,
    take the first one (service order) under a new lease, stage ``direct``; returns each
    job with the interface to ring."""
    if not free or (tenants is not None and not tenants):
        return []
    due = (
        select(R.id, R.assigned_to)
        .where(
            R.status == "pending",
            R.assigned_to.in_(list(free)),
            R.assigned_until > now,
            *due_now(now, tenants),
        )
        .order_by(*SERVICE_ORDER)
        .limit(10 * len(free))
        .with_for_update(skip_locked=True)
    )
    async with store.db.session() as session:
        first: dict[str, int] = {}
        for request_id, agent in (await session.execute(due)).all():
            first.setdefault(str(agent), int(request_id))
        jobs = await store.take(session, list(first.values()), now, stage="direct")
    return [(job, free[str(job.context["assigned"])]) for job in jobs]
