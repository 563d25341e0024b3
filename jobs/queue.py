"""Job rows: enqueue in the caller's transaction, claim, renew, finish, recover.

Every state change is one conditional ``UPDATE``: a worker only finishes, fails or renews
jobs whose ``locked_by`` is still its own id, so a job that another worker recovered after a
lease ran out is never finished twice. Claims are one ``UPDATE … WHERE id IN (SELECT …
FOR UPDATE SKIP LOCKED) RETURNING``: on PostgreSQL concurrent workers skip each other's rows;
on SQLite the statement runs under the database's single write lock, which serialises it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import utcnow
from callcenter.db.session import Database
from jobs.models import Job

DEFAULT_QUEUE = "default"
ERROR_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job this worker now owns until ``locked_until`` (renewed by the heartbeat)."""

    id: int
    task: str
    payload: dict[str, Any]
    attempt: int  # 1 for the first run
    max_attempts: int
    last_error: str | None


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: Mapping[str, Any] | None = None,
    *,
    queue: str = DEFAULT_QUEUE,
    run_at: datetime | None = None,
    key: str | None = None,
    max_attempts: int = 5,
) -> int | None:
    """Add a job in the caller's transaction; it runs once that transaction commits.

    ``run_at`` schedules it; ``key`` refuses a second queued/running job with the same key
    (then ``None`` is returned and nothing is added)."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    values = {
        "task": task,
        "queue": queue,
        "payload": dict(payload or {}),
        "status": "queued",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at or utcnow(),
        "key": key,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(Job) if dialect == "postgresql" else sqlite.insert(Job)
    stmt = insert.values(**values)
    if key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"])
    result = await session.execute(stmt.returning(Job.id))
    return result.scalar_one_or_none()


async def claim(
    db: Database,
    worker: str,
    queues: Sequence[str] | None,
    limit: int,
    lease: float,
    *,
    tasks: Sequence[str] | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` due jobs of ``queues`` (None: every queue) and ``tasks`` (None:
    every task) for ``worker``."""
    now = utcnow()
    due = select(Job.id).where(Job.status == "queued", Job.run_at <= now)
    if queues is not None:
        due = due.where(Job.queue.in_(list(queues)))
    if tasks is not None:
        due = due.where(Job.task.in_(list(tasks)))
    due = due.order_by(Job.run_at, Job.id).limit(limit)
    if db.backend == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(
            status="running",
            attempts=Job.attempts + 1,
            locked_by=worker,
            locked_until=now + timedelta(seconds=lease),
            started_at=now,
        )
        .returning(Job.id, Job.task, Job.payload, Job.attempts, Job.max_attempts, Job.last_error)
        .execution_options(synchronize_session=False)
    )
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    claimed = [Claimed(r[0], r[1], dict(r[2] or {}), r[3], r[4], r[5]) for r in rows]
    return sorted(claimed, key=lambda c: c.id)


def _mine(job_id: int, worker: str) -> Any:
    return and_(Job.id == job_id, Job.locked_by == worker, Job.status == "running")


async def finish(session: AsyncSession, job_id: int, worker: str) -> bool:
    """Mark the job done in ``session``'s transaction; False if it is no longer ours (its
    lease ran out and another worker took it): the caller must then roll back."""
    stmt = (
        update(Job)
        .where(_mine(job_id, worker))
        .values(status="done", key=None, locked_by=None, locked_until=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def fail(db: Database, job: Claimed, worker: str, error: str, retry_in: float | None) -> bool:
    """Record a failed attempt: back to ``queued`` after ``retry_in`` seconds, or ``failed``
    for good when ``retry_in`` is None."""
    now = utcnow()
    values: dict[str, Any] = {"last_error": error[:ERROR_LIMIT], "locked_by": None}
    values["locked_until"] = None
    if retry_in is None:
        values.update(status="failed", key=None, finished_at=now)
    else:
        values.update(status="queued", run_at=now + timedelta(seconds=retry_in))
    async with db.session() as s:
        result = await s.execute(
            update(Job)
            .where(_mine(job.id, worker))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def release(db: Database, job_ids: Sequence[int], worker: str) -> int:
    """Give unfinished jobs back at shutdown; the interrupted attempt is not counted."""
    if not job_ids:
        return 0
    async with db.session() as s:
        result = await s.execute(
            update(Job)
            .where(Job.id.in_(list(job_ids)), Job.locked_by == worker, Job.status == "running")
            .values(
                status="queued",
                attempts=Job.attempts - 1,
                locked_by=None,
                locked_until=None,
                run_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def heartbeat(db: Database, worker: str, lease: float) -> int:
    """Extend the lease of every job ``worker`` runs; returns how many."""
    async with db.session() as s:
        result = await s.execute(
            update(Job)
            .where(Job.locked_by == worker, Job.status == "running")
            .values(locked_until=utcnow() + timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def recover_stalled(db: Database) -> list[int]:
    """Running jobs whose lease ran out (their worker was killed or cut off) go back to
    ``queued``; the attempt stays counted, so a job that kills its worker every time ends
    ``failed`` once its attempts are used up (see :class:`jobs.worker.Worker`)."""
    now = utcnow()
    async with db.session() as s:
        rows = (
            await s.execute(
                update(Job)
                .where(Job.status == "running", Job.locked_until < now)
                .values(
                    status="queued",
                    last_error="worker lost: its lease expired while the job was running",
                    locked_by=None,
                    locked_until=None,
                    run_at=now,
                )
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    return [r[0] for r in rows]


async def retry(session: AsyncSession, job_id: int) -> bool:
    """Put a ``failed`` job back in the queue with fresh attempts (an operator's retry)."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "failed")
        .values(status="queued", attempts=0, run_at=utcnow(), finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def counts(db: Database) -> dict[str, int]:
    """Jobs per status (for ``/metrics`` and ``callcenter jobs list``)."""
    from sqlalchemy import func

    async with db.session() as s:
        rows = (await s.execute(select(Job.status, func.count()).group_by(Job.status))).all()
    return {status: int(n) for status, n in rows}
