"""Customer first, durable: the guard's progress per attempt in PostgreSQL, so an app
restart (or another instance taking over) resumes the attempt where it was instead of
losing it.

An attempt's ``mode`` is ``customer_first``; ``picked_up_at`` says the customer answered and
the guard ("press 1 to be connected") is running, ``guard_plays`` how often it was played;
the request's stage ``confirmed`` says the customer pressed 1 and waits at the head of the
queue with music; ``agent`` of the attempt who took the placeholder meanwhile. The request
stays ``dialling`` (leased) until the customer is bridged with a receptionist, so whoever
holds the lease, and only they, finish it: another instance that sees the receptionist's
AgentConnect finds the slot current and leaves it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, update

from callbacks.leases import LeaseStore
from callbacks.models import CallbackAttempt, CallbackRequest

R, A = CallbackRequest, CallbackAttempt
MODE = "customer_first"


@dataclass(frozen=True, slots=True)
class FirstProgress:
    attempt: int
    agent: str | None
    picked_up: bool
    plays: int
    confirmed: bool


def _this(job_id: int, attempt: int) -> ColumnElement[bool]:
    return and_(A.request_id == job_id, A.attempt == attempt)


async def mark_first(store: LeaseStore, job_id: int, attempt: int, agent: str | None) -> None:
    """This attempt runs customer first (a receptionist may have taken it already)."""
    async with store.db.session() as session:
        await session.execute(
            update(A).where(_this(job_id, attempt)).values(mode=MODE, agent=agent or None)
        )


async def picked_up(store: LeaseStore, job_id: int, attempt: int, now: datetime) -> None:
    async with store.db.session() as session:
        await session.execute(
            update(A)
            .where(_this(job_id, attempt), A.picked_up_at.is_(None))
            .values(picked_up_at=now)
        )


async def guard_played(store: LeaseStore, job_id: int, attempt: int, plays: int) -> None:
    async with store.db.session() as session:
        await session.execute(update(A).where(_this(job_id, attempt)).values(guard_plays=plays))


async def taken_by(store: LeaseStore, job_id: int, attempt: int, agent: str) -> None:
    """A receptionist took the placeholder of a customer-first attempt."""
    async with store.db.session() as session:
        await session.execute(update(A).where(_this(job_id, attempt)).values(agent=agent))
        await session.execute(
            update(R).where(R.id == job_id, R.attempts == attempt).values(agent=agent)
        )


async def confirmed(store: LeaseStore, job_id: int, attempt: int, now: datetime) -> bool:
    """The customer pressed 1: the attempt reached them (``answered``); the callback stays
    leased (stage ``confirmed``) until a receptionist is bridged with them."""
    async with store.db.session() as session:
        done = await session.execute(
            update(R)
            .where(R.id == job_id, R.attempts == attempt, R.stage == "ringing")
            .values(stage="confirmed", lease_until=now + store.lease)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return False
        await session.execute(
            update(A).where(_this(job_id, attempt)).values(answered_at=now, outcome="answered")
        )
        return True


async def completed(
    store: LeaseStore, job_id: int, attempt: int, now: datetime, *, hung_up: bool = False
) -> bool:
    """Bridged with a receptionist (or the confirmed customer hung up while waiting for
    one: reached, so nobody calls them again): final outcome ``completed``. ``hung_up``:
    the conversation is over, so the attempt row is closed in the same transaction (one
    session fewer per callback than closing it apart, bench/callbacks.py)."""
    async with store.db.session() as session:
        done = await session.execute(
            update(R)
            .where(
                R.id == job_id,
                R.attempts == attempt,
                R.status == "dialling",
                R.stage.in_(("ringing", "confirmed")),
            )
            .values(
                stage="connected",
                status="done",
                outcome="completed",
                done_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )
        if hung_up:
            await session.execute(
                update(A).where(_this(job_id, attempt), A.ended_at.is_(None)).values(ended_at=now)
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]


async def progress(store: LeaseStore, job_id: int, attempt: int) -> FirstProgress | None:
    """The stored progress of a customer-first attempt; None for an agent-first one."""
    query = (
        select(A.agent, A.picked_up_at, A.guard_plays, A.mode, R.stage)
        .join(R, R.id == A.request_id)
        .where(_this(job_id, attempt))
    )
    async with store.db.session() as session:
        row = (await session.execute(query)).first()
    if row is None or row.mode != MODE:
        return None
    return FirstProgress(
        attempt,
        row.agent or None,
        row.picked_up_at is not None,
        int(row.guard_plays or 0),
        row.stage == "confirmed",
    )
