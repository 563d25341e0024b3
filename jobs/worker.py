"""The worker: claims due jobs, runs their task, records the outcome.

Rule of this module: a job is finished only by the worker that holds its lease, in one
conditional update (:mod:`jobs.queue`), so each job's completion is recorded exactly once.
A handler whose effect is a database write passes its session to :meth:`JobContext.finish`
and the write commits together with the completion. Effects outside the database (an
e-mail, a webhook POST) are at-least-once: a worker killed after sending but before
recording sends again on the retry, so such tasks keep an idempotency mark of their own.

The heartbeat renews the lease of running jobs every ``lease / 3`` seconds; every worker
also sweeps jobs whose lease ran out back into the queue (their worker died). On a graceful
stop, running jobs get ``shutdown_timeout`` seconds; the rest are cancelled and released
without counting the interrupted attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.aio import wait_set
from callcenter.db.models import utcnow
from callcenter.db.session import Database
from jobs import queue
from jobs.models import Job
from jobs.policy import Backoff

log = logging.getLogger(__name__)


class Retry(Exception):
    """Raise from a handler to try again after ``delay`` seconds (default: the backoff)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Permanent(Exception):
    """Raise from a handler when retrying cannot help (bad input): the job fails at once."""


class LeaseLost(RuntimeError):
    """The job was taken over by another worker (this one's lease ran out)."""


@dataclass(slots=True)
class JobContext:
    """What a handler knows about the run it is part of."""

    job_id: int
    attempt: int
    max_attempts: int
    worker_id: str
    db: Database
    finished: bool = False

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    async def finish(self, session: AsyncSession) -> None:
        """Record completion in ``session``'s transaction (commits with the handler's own
        writes); raises :class:`LeaseLost` so the transaction rolls back if the job is no
        longer this worker's."""
        if not await queue.finish(session, self.job_id, self.worker_id):
            raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker_id}")
        self.finished = True


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]
GiveUp = Callable[[JobContext, dict[str, Any], str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Task:
    """A kind of job: its handler and how it is retried."""

    name: str
    handler: Handler
    queue: str = queue.DEFAULT_QUEUE
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float | None = None  # per attempt, seconds
    # Called once when the job fails for good (attempts used up, Permanent, worker lost
    # too often), before it is marked failed: e.g. "not transcribed" with the reason.
    on_give_up: GiveUp | None = None

    async def enqueue(
        self, session: AsyncSession, payload: dict[str, Any], **kwargs: Any
    ) -> int | None:
        """:func:`jobs.queue.enqueue` with this task's name, queue and attempts."""
        kwargs.setdefault("queue", self.queue)
        kwargs.setdefault("max_attempts", self.max_attempts)
        return await queue.enqueue(session, self.name, payload, **kwargs)


@dataclass(frozen=True, slots=True)
class Periodic:
    """Run ``task`` every ``every`` seconds (one queued run at a time across all workers)."""

    task: str
    every: float


@dataclass(slots=True)
class WorkerStats:
    done: int = 0
    retried: int = 0
    failed: int = 0
    recovered: int = 0
    released: int = 0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs the jobs of ``tasks`` found in ``queues`` (None: all queues); jobs of other
    tasks are left to workers that have them."""

    def __init__(
        self,
        db: Database,
        tasks: Iterable[Task],
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 4,
        lease: float = 30.0,
        poll_interval: float = 0.5,
        shutdown_timeout: float = 10.0,
        periodic: Sequence[Periodic] = (),
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.tasks = {t.name: t for t in tasks}
        self.queues = list(queues) if queues is not None else None
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.shutdown_timeout = shutdown_timeout
        self.periodic = list(periodic)
        self.worker_id = worker_id or default_worker_id()
        self.stats = WorkerStats()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for work now instead of at the next poll (after an in-process enqueue)."""
        self._wake.set()

    @property
    def running(self) -> int:
        return len(self._running)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; then the graceful shutdown described above."""
        beat = asyncio.create_task(self._heartbeat(stop), name=f"jobs-heartbeat-{self.worker_id}")
        sweep_every = max(self.lease / 2, self.poll_interval)
        last_sweep = -sweep_every
        last_periodic = -60.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                try:
                    if loop.time() - last_sweep >= sweep_every:
                        last_sweep = loop.time()
                        await self._sweep()
                    if self.periodic and loop.time() - last_periodic >= 30.0:
                        last_periodic = loop.time()
                        await self._schedule_periodic()
                    started = await self._fill()
                except Exception:  # the database may be away: keep trying
                    log.exception("jobs: worker %s iteration failed", self.worker_id)
                    started = 0
                if not started:
                    await self._idle(stop)
        finally:
            await self._shutdown()
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def drain(self, timeout: float = 60.0, horizon: float = 1.0) -> None:
        """Run until none is running and no job is due within ``horizon`` seconds (tests,
        ``callcenter worker --once``)."""
        async with asyncio.timeout(timeout):
            while True:
                await self._sweep()
                started = await self._fill()
                if not started and not self._running and not await self._due_soon(horizon):
                    return
                if not started and self._running:
                    await asyncio.wait(list(self._running.values()), timeout=self.poll_interval)
                elif not started:
                    await asyncio.sleep(self.poll_interval)

    async def _due_soon(self, horizon: float) -> bool:
        soon = utcnow() + timedelta(seconds=horizon)
        stmt = select(Job.id).where(
            Job.status == "queued", Job.run_at <= soon, Job.task.in_(list(self.tasks))
        )
        if self.queues is not None:
            stmt = stmt.where(Job.queue.in_(self.queues))
        async with self.db.session() as s:
            return (await s.scalar(stmt.limit(1))) is not None

    # --- loop parts -------------------------------------------------------------------

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        if len(self._running) >= self.concurrency:
            waiters += list(self._running.values())
        try:
            await asyncio.wait(
                waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waiters[:2]:
                w.cancel()
            self._wake.clear()

    async def _fill(self) -> int:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        claimed = await queue.claim(
            self.db, self.worker_id, self.queues, free, self.lease, tasks=list(self.tasks)
        )
        for job in claimed:
            self._running[job.id] = asyncio.create_task(self._run_one(job), name=f"job-{job.id}")
        return len(claimed)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await wait_set(stop, self.lease / 3)
            if self._running:
                try:
                    await queue.heartbeat(self.db, self.worker_id, self.lease)
                except Exception:
                    log.exception("jobs: heartbeat of %s failed", self.worker_id)

    async def _sweep(self) -> None:
        recovered = await queue.recover_stalled(self.db)
        if recovered:
            self.stats.recovered += len(recovered)
            log.warning("jobs: recovered %d stalled job(s) %s", len(recovered), recovered)

    async def _schedule_periodic(self) -> None:
        for p in self.periodic:
            task = self.tasks.get(p.task)
            if task is None:
                continue
            async with self.db.session() as s:
                last = await s.scalar(select(func.max(Job.finished_at)).where(Job.task == p.task))
                run_at = utcnow() if last is None else last + timedelta(seconds=p.every)
                await task.enqueue(s, {}, run_at=run_at, key=f"periodic:{p.task}")

    async def _shutdown(self) -> None:
        if not self._running:
            return
        pending = dict(self._running)
        _done, still = await asyncio.wait(pending.values(), timeout=self.shutdown_timeout)
        for t in still:
            t.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        ids = [job_id for job_id, t in pending.items() if t in still]
        try:
            self.stats.released += await queue.release(self.db, ids, self.worker_id)
        except Exception:  # the lease will run out and another worker recovers them
            log.exception("jobs: could not release %s at shutdown", ids)
        self._running.clear()

    # --- one job ----------------------------------------------------------------------

    async def _run_one(self, job: queue.Claimed) -> None:
        try:
            await self._execute(job)
        except asyncio.CancelledError:
            raise
        except Exception:  # recording the outcome failed: the lease will run out
            log.exception("jobs: could not record the outcome of job %s", job.id)
        finally:
            if asyncio.current_task() is self._running.get(job.id):
                self._running.pop(job.id, None)

    async def _execute(self, job: queue.Claimed) -> None:
        ctx = JobContext(job.id, job.attempt, job.max_attempts, self.worker_id, self.db)
        task = self.tasks.get(job.task)
        if task is None:
            await queue.fail(self.db, job, self.worker_id, f"no handler for {job.task!r}", 60.0)
            return
        if job.attempt > job.max_attempts:  # its workers died on it every time
            await self._give_up(task, ctx, job, job.last_error or "attempts used up")
            return
        try:
            async with asyncio.timeout(task.timeout):
                await task.handler(ctx, job.payload)
            if not ctx.finished:
                async with self.db.session() as s:
                    await ctx.finish(s)
            self.stats.done += 1
        except asyncio.CancelledError:
            raise
        except LeaseLost as exc:
            log.warning("jobs: %s", exc)
        except Permanent as exc:
            await self._give_up(task, ctx, job, f"{exc}")
        except Exception as exc:
            reason = _describe(exc)
            if ctx.last_attempt:
                await self._give_up(task, ctx, job, reason)
                return
            delay = exc.delay if isinstance(exc, Retry) and exc.delay is not None else None
            if delay is None:
                delay = task.backoff.delay(job.attempt)
            log.info("jobs: %s %s attempt %d failed (%s); retry in %.1fs",
                     job.task, job.id, job.attempt, reason, delay)  # fmt: skip
            await queue.fail(self.db, job, self.worker_id, reason, delay)
            self.stats.retried += 1

    async def _give_up(self, task: Task, ctx: JobContext, job: queue.Claimed, reason: str) -> None:
        log.warning("jobs: %s %s failed for good: %s", job.task, job.id, reason)
        if task.on_give_up is not None:
            try:
                await task.on_give_up(ctx, job.payload, reason)
            except Exception:
                log.exception("jobs: give-up hook of %s %s failed", job.task, job.id)
        await queue.fail(self.db, job, self.worker_id, reason, None)
        self.stats.failed += 1


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
