"""The dispatcher's durable state: leases with a fencing token, attempts, outcomes.

Rule of this module: every state change of a callback after it was requested happens here,
in one short transaction, guarded by the lease token it was given. Claiming increments the
token; a write naming an older token matches no row, so an instance that lost its lease
(paused, partitioned, restarted) can never dial or finish a callback another instance now
owns. On PostgreSQL claims take rows with ``SELECT … FOR UPDATE SKIP LOCKED`` so several
instances share the list without waiting on each other; SQLite (the embedded, single
instance default) serialises writers anyway and ignores the locking clause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callbacks.dispatch import Job, customer_channel_id
from callbacks.models import ACTIVE, WAITING, CallbackAttempt, CallbackRequest
from callbacks.retry import (
    AttemptOutcome,
    Final,
    Retry,
    RetryPolicy,
    after_attempt,
)
from callcenter.db.session import Database

R = CallbackRequest


@dataclass(frozen=True, slots=True)
class Held:
    """An active callback whose lease ran out (its owner may be gone): to reconcile."""

    id: int
    token: int
    stage: str | None
    attempts: int
    tenant: str = ""


def not_expired(now: datetime) -> ColumnElement[bool]:
    """Never dialled past its expiry (the tenant's ``max_age`` or the API's ``expires_at``)."""
    return or_(R.expires_at.is_(None), R.expires_at > now)


def unassigned(now: datetime) -> ColumnElement[bool]:
    """For anyone in the queue: not assigned, or its receptionist's time has run out."""
    return or_(R.assigned_to.is_(None), R.assigned_until.is_(None), R.assigned_until <= now)


# Served by priority (VIP first), then the original arrival (the virtual place), then id.
SERVICE_ORDER = (R.priority.desc(), func.coalesce(R.arrival_at, R.requested_at), R.id)


def due_now(now: datetime, tenants: Collection[str] | None) -> list[ColumnElement[bool]]:
    """A pending callback may be dialled now: due, not expired, of an open tenant
    (``tenants``; None: any). Whom it is for (anyone, or its receptionist) is the caller's."""
    due = [or_(R.due_at.is_(None), R.due_at <= now), not_expired(now)]
    if tenants is not None:
        due.append(R.tenant.in_(list(tenants)))
    return due


def _for_anyone(now: datetime, tenants: Collection[str] | None) -> list[ColumnElement[bool]]:
    return [*due_now(now, tenants), unassigned(now)]


def _job(row: CallbackRequest) -> Job:
    context = {
        "source": row.source,
        "requested_at": row.requested_at.isoformat(),
        "wait_seconds": row.wait_seconds,
        "note": row.note,
        "requests": row.requests,
        "assigned": row.assigned_to,
        "assigned_until": row.assigned_until.isoformat() if row.assigned_until else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }
    return Job(
        id=row.id,
        token=row.lease_token,
        tenant=row.tenant,
        number=row.number,
        queue=row.queue,
        language=row.language,
        priority=row.priority,
        arrival=row.arrival_at or row.requested_at,
        attempts=row.attempts,
        context=context,
    )


class LeaseStore:
    def __init__(self, database: Database, owner: str, lease_s: float = 30.0) -> None:
        self._db = database
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)

    @property
    def db(self) -> Database:
        return self._db

    async def claim(
        self,
        now: datetime,
        tenants: Collection[str] | None = None,
        limit: int = 100,
        per_queue: int | None = None,
    ) -> list[Job]:
        """Take due pending callbacks (of open ``tenants``) in service order; each gets a new
        token. Nobody else can take them until the lease runs out or they are released.

        ``per_queue``: at most this many placeholders waiting per queue (the window of
        ADR 0006); the rest stay pending and are claimed as the window moves.
        """
        if tenants is not None and not tenants:
            return []
        if per_queue is not None:
            return await self._claim_window(now, tenants, limit, per_queue)
        due = (
            select(R.id)
            .where(R.status == "pending", *_for_anyone(now, tenants))
            .order_by(*SERVICE_ORDER)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._db.session() as session:
            ids = list((await session.scalars(due)).all())
            return await self.take(session, ids, now)

    async def _claim_window(
        self, now: datetime, tenants: Collection[str] | None, limit: int, per_queue: int
    ) -> list[Job]:
        """The window's claim, run after every hand-over: first one aggregate over the
        active rows (how many placeholders each queue holds, how many are due), then only
        the few rows the short queues need. Reading and sorting every pending row on each
        hand-over (1,000 pending: 20 claims a second) kept a write transaction open much of
        the time, and the fences of the offers queued behind it (bench/callbacks.py)."""
        held = func.sum(case((R.stage == "queued", 1), else_=0))
        ready = func.sum(
            case((and_(R.status == "pending", *_for_anyone(now, tenants)), 1), else_=0)
        )
        counts = select(R.queue, held, ready).where(R.status.in_(ACTIVE)).group_by(R.queue)
        async with self._db.session() as session:
            rows = (await session.execute(counts)).all()
        needs = {
            str(queue): min(per_queue - int(h or 0), int(r or 0))
            for queue, h, r in rows
            if int(r or 0) > 0 and int(h or 0) < per_queue
        }
        if not needs:
            return []
        async with self._db.session() as session:
            picked: list[tuple[int, int, datetime]] = []
            for queue, need in needs.items():
                pick = (
                    select(R.id, R.priority, func.coalesce(R.arrival_at, R.requested_at))
                    .where(R.status == "pending", R.queue == queue, *_for_anyone(now, tenants))
                    .order_by(*SERVICE_ORDER)
                    .limit(need)
                    .with_for_update(skip_locked=True)
                )
                picked.extend((i, p, at) for i, p, at in (await session.execute(pick)).all())
            # Over the limit: the first in service order across all queues.
            picked.sort(key=lambda row: (-row[1], row[2], row[0]))
            return await self.take(session, [i for i, _p, _at in picked[:limit]], now)

    async def take(
        self, session: AsyncSession, ids: list[int], now: datetime, stage: str = "queued"
    ) -> list[Job]:
        """In ``session``: the pending ``ids`` under a new lease (token + 1), at ``stage``;
        returned in service order."""
        if not ids:
            return []
        stmt = (
            update(R)
            .where(R.id.in_(ids), R.status == "pending")
            .values(
                status="dialling",
                stage=stage,
                lease_owner=self.owner,
                lease_token=R.lease_token + 1,
                lease_until=now + self.lease,
            )
            .returning(R)
        )
        rows = list((await session.execute(stmt)).scalars())
        return sorted((_job(r) for r in rows), key=lambda j: (-j.priority, j.arrival, j.id))

    async def renew(self, now: datetime) -> int:
        """Extend the leases this instance holds; returns how many."""
        stmt = (
            update(R)
            .where(R.lease_owner == self.owner, R.status == "dialling")
            .values(lease_until=now + self.lease)
        )
        async with self._db.session() as session:
            return int(cast(int, (await session.execute(stmt)).rowcount))  # type: ignore[attr-defined]

    async def release(self, job_id: int, token: int, now: datetime) -> bool:
        """The placeholder is gone before a receptionist took it (PBX restart, hung up):
        back to pending with the same virtual place; not an attempt."""
        stmt = (
            update(R)
            .where(R.id == job_id, R.lease_token == token, R.stage.in_(WAITING))
            .values(status="pending", stage=None, lease_owner=None, lease_until=None)
        )
        async with self._db.session() as session:
            return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def begin_attempt(
        self, job_id: int, token: int, agent: str, now: datetime, mode: str | None = None
    ) -> tuple[Job, int] | None:
        """A receptionist took the placeholder (customer first: it reached the head): count
        the attempt (once, whoever asks first with the current token) and return it; None
        if the fence refuses, or the callback has expired meanwhile."""
        stmt = (
            update(R)
            .where(
                R.id == job_id,
                R.lease_token == token,
                R.status == "dialling",
                R.stage.in_(WAITING),
                not_expired(now),
            )
            .values(
                stage="ringing",
                attempts=R.attempts + 1,
                agent=agent,
                lease_owner=self.owner,
                lease_until=now + self.lease,
            )
            .returning(R)
        )
        # A receptionist waits for this one (and the customer for ``answered``): it goes first.
        async with self._db.session(priority=True) as session:
            row = (await session.execute(stmt)).scalar_one_or_none()
            if row is None:
                return None
            attempt = row.attempts
            session.add(
                CallbackAttempt(
                    request_id=job_id,
                    attempt=attempt,
                    lease_token=token,
                    channel_id=customer_channel_id(job_id, attempt),
                    agent=agent,
                    started_at=now,
                    mode=mode,
                )
            )
            return _job(row), attempt

    async def answered(self, job_id: int, attempt: int, now: datetime) -> bool:
        """The customer answered: the callback is completed (bridged with the receptionist)."""
        async with self._db.session(priority=True) as session:
            done = await session.execute(
                update(R)
                .where(R.id == job_id, R.attempts == attempt, R.stage == "ringing")
                .values(
                    stage="connected",
                    status="done",
                    outcome="completed",
                    done_at=now,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                return False
            await session.execute(
                update(CallbackAttempt)
                .where(CallbackAttempt.request_id == job_id, CallbackAttempt.attempt == attempt)
                .values(answered_at=now, outcome="answered")
            )
            return True

    async def ended(
        self,
        job_id: int,
        attempt: int,
        outcome: AttemptOutcome,
        *,
        cause: str | None,
        now: datetime,
        policy: RetryPolicy,
    ) -> Retry | Final | None:
        """The customer leg ended unanswered: store the attempt, then retry or finish.
        None if this attempt was settled already (a second report of the same hangup)."""
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(R)
                    .where(
                        R.id == job_id,
                        R.attempts == attempt,
                        # confirmed: customer first, the 1 came but no receptionist yet
                        R.stage.in_(("ringing", "confirmed")),
                    )
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            await session.execute(
                update(CallbackAttempt)
                .where(CallbackAttempt.request_id == job_id, CallbackAttempt.attempt == attempt)
                .values(ended_at=now, outcome=outcome, cause=cause)
            )
            seen = Counter(
                cast(AttemptOutcome, o)
                for o in (
                    await session.execute(
                        select(CallbackAttempt.outcome).where(
                            CallbackAttempt.request_id == job_id,
                            CallbackAttempt.outcome.is_not(None),
                        )
                    )
                ).scalars()
            )
            decision = after_attempt(policy, outcome, seen, now, row.expires_at)
            row.stage, row.lease_owner, row.lease_until = None, None, None
            if isinstance(decision, Retry):
                row.status, row.due_at = "pending", decision.due_at
            else:
                row.status = "failed" if decision.outcome != "cancelled" else "cancelled"
                row.outcome, row.done_at = decision.outcome, now
            return decision

    async def expire(self, now: datetime) -> list[tuple[Job, str | None]]:
        """Callbacks past ``expires_at`` that nobody is dialling: final outcome ``expired``.
        Returns each with the stage it had (``queued``/``direct``: its placeholder, named by
        the returned job's old token, must be hung up)."""
        stale = and_(
            R.expires_at.is_not(None),
            R.expires_at <= now,
            or_(R.status == "pending", and_(R.status == "dialling", R.stage.in_(WAITING))),
        )
        async with self._db.session() as session:
            rows = list(
                (
                    await session.execute(select(R).where(stale).with_for_update(skip_locked=True))
                ).scalars()
            )
            out = [(_job(r), r.stage) for r in rows]
            for r in rows:
                r.status, r.outcome, r.done_at, r.stage = "failed", "expired", now, None
                r.lease_owner, r.lease_until = None, None
                r.lease_token += 1  # a placeholder still waiting can no longer be taken
            return out

    async def expired_leases(self, now: datetime, mine: bool = False) -> list[Held]:
        """Active callbacks whose owner stopped renewing (crashed), and with ``mine`` also
        those of this owner (after a restart with the same instance id): the reconciler
        checks them against the PBX."""
        stale = or_(R.lease_until.is_(None), R.lease_until < now)
        if mine:
            stale = or_(stale, R.lease_owner == self.owner)
        query = select(R.id, R.lease_token, R.stage, R.attempts, R.tenant).where(
            R.status == "dialling", stale
        )
        async with self._db.session() as session:
            return [Held(*r) for r in (await session.execute(query)).all()]

    async def adopt(self, job_id: int, token: int, now: datetime) -> Job | None:
        """Take over an active callback whose channels still exist in the PBX."""
        stmt = (
            update(R)
            .where(
                R.id == job_id,
                R.lease_token == token,
                R.status == "dialling",
                or_(R.lease_until.is_(None), R.lease_until < now, R.lease_owner == self.owner),
            )
            .values(lease_owner=self.owner, lease_until=now + self.lease)
            .returning(R)
        )
        async with self._db.session() as session:
            row = (await session.execute(stmt)).scalar_one_or_none()
            return _job(row) if row is not None else None

    async def slot_current(self, job_id: int, token: int) -> bool:
        """True while the placeholder with ``token`` is the callback's live one (another
        instance may be dialling it); False once it was cancelled, moved or re-leased."""
        query = select(R.id).where(R.id == job_id, R.lease_token == token, R.status == "dialling")
        async with self._db.session() as session:
            return (await session.execute(query)).first() is not None

    async def job(self, job_id: int) -> Job | None:
        async with self._db.session() as session:
            row = await session.get(R, job_id)
            return _job(row) if row is not None else None

    async def queued_of(self, queue: str) -> list[Job]:
        """Callbacks with a placeholder in ``queue`` now (for the announcement count)."""
        query = select(R).where(and_(R.queue == queue, R.stage == "queued"))
        async with self._db.session() as session:
            return [_job(r) for r in (await session.execute(query)).scalars()]
