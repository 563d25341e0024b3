"""The job engine on both backends: exactly once, retries with backoff, schedules, queueing
locks, stalled-job recovery, graceful release, lease loss."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from callcenter.db import migrate
from callcenter.db.models import utcnow
from callcenter.db.session import Database
from jobs import queue
from jobs.models import Job
from jobs.policy import Backoff
from jobs.worker import JobContext, Permanent, Task, Worker
from tests.conftest import fresh_database

FAST = Backoff(base=0.05, cap=0.2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('jobs') / 'jobs.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    with fresh_database("cc_jobs") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    async with database.session() as s:
        await s.execute(delete(Job))
    yield database
    await database.close()


async def _add(db: Database, task: str, n: int = 1, **kwargs: Any) -> list[int | None]:
    async with db.session() as s:
        return [await queue.enqueue(s, task, {"i": i}, **kwargs) for i in range(n)]


async def _jobs(db: Database) -> list[Job]:
    async with db.session() as s:
        return list(await s.scalars(select(Job).order_by(Job.id)))


async def test_two_workers_run_each_of_200_jobs_exactly_once(db_url: str, db: Database) -> None:
    runs: Counter[int] = Counter()

    async def handler(_ctx: JobContext, payload: dict[str, Any]) -> None:
        runs[payload["i"]] += 1
        await asyncio.sleep(0)

    task = Task("count", handler)
    async with db.session() as s:
        for i in range(200):
            await queue.enqueue(s, "count", {"i": i})
    other = Database(db_url)  # a second engine: separate connections, like another process
    try:
        workers = [
            Worker(db, [task], concurrency=8, poll_interval=0.02),
            Worker(other, [task], concurrency=8, poll_interval=0.02),
        ]
        await asyncio.gather(*(w.drain(timeout=60) for w in workers))
    finally:
        await other.close()
    assert sorted(runs) == list(range(200))
    assert set(runs.values()) == {1}
    assert all(w.stats.done > 0 for w in workers), [w.stats for w in workers]
    assert {j.status for j in await _jobs(db)} == {"done"}


async def test_failures_retry_with_backoff_then_succeed(db: Database) -> None:
    seen: list[int] = []

    async def flaky(ctx: JobContext, _payload: dict[str, Any]) -> None:
        seen.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError(f"down (attempt {ctx.attempt})")

    await _add(db, "flaky")
    worker = Worker(db, [Task("flaky", flaky, backoff=FAST)], poll_interval=0.02)
    await worker.drain()
    [job] = await _jobs(db)
    assert seen == [1, 2, 3]
    assert (job.status, job.attempts) == ("done", 3)
    assert job.last_error == "ConnectionError: down (attempt 2)"
    assert worker.stats.retried == 2


async def test_backoff_delays_the_next_attempt(db: Database) -> None:
    async def broken(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        raise RuntimeError("nope")

    await _add(db, "broken")
    worker = Worker(db, [Task("broken", broken, backoff=Backoff(base=30))], poll_interval=0.02)
    before = utcnow()
    await worker.drain(horizon=0)
    [job] = await _jobs(db)
    assert job.status == "queued" and job.attempts == 1
    assert job.run_at >= before + timedelta(seconds=29)


async def test_attempts_used_up_fail_for_good_and_call_the_give_up_hook(db: Database) -> None:
    given_up: list[str] = []

    async def broken(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        raise RuntimeError("always")

    async def give_up(_ctx: JobContext, _payload: dict[str, Any], reason: str) -> None:
        given_up.append(reason)

    task = Task("broken", broken, max_attempts=3, backoff=FAST, on_give_up=give_up)
    async with db.session() as s:
        await task.enqueue(s, {})
    await Worker(db, [task], poll_interval=0.02).drain()
    [job] = await _jobs(db)
    assert (job.status, job.attempts, job.key) == ("failed", 3, None)
    assert given_up == ["RuntimeError: always"]


async def test_permanent_error_fails_at_once_and_an_operator_can_retry(db: Database) -> None:
    calls = 0

    async def picky(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Permanent("corrupt input")

    task = Task("picky", picky)
    await _add(db, "picky")
    worker = Worker(db, [task], poll_interval=0.02)
    await worker.drain()
    [job] = await _jobs(db)
    assert (job.status, job.attempts, job.last_error) == ("failed", 1, "corrupt input")
    async with db.session() as s:
        assert await queue.retry(s, job.id)
    await worker.drain()
    [job] = await _jobs(db)
    assert (job.status, calls) == ("done", 2)


async def test_scheduled_job_waits_for_its_time(db: Database) -> None:
    ran: list[float] = []

    async def later(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        ran.append(1)

    await _add(db, "later", run_at=utcnow() + timedelta(seconds=0.6))
    worker = Worker(db, [Task("later", later)], poll_interval=0.02)
    await worker.drain(horizon=0)
    assert ran == []
    await asyncio.sleep(0.7)
    await worker.drain()
    assert ran == [1]


async def test_key_is_a_queueing_lock_while_the_job_is_pending(db: Database) -> None:
    first, second = await _add(db, "once", 2, key="voicemail:7:transcribe")
    assert first is not None and second is None

    async def noop(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        return None

    await Worker(db, [Task("once", noop)], poll_interval=0.02).drain()
    [again] = await _add(db, "once", key="voicemail:7:transcribe")
    assert again is not None  # the lock is released once the job ended


async def test_job_of_a_dead_worker_is_recovered_and_the_dead_worker_cannot_finish_it(
    db: Database,
) -> None:
    await _add(db, "work")
    [stale] = await queue.claim(db, "dead-worker", None, 1, lease=0.2)
    ran: list[int] = []

    async def work(ctx: JobContext, _payload: dict[str, Any]) -> None:
        ran.append(ctx.attempt)

    await asyncio.sleep(0.3)
    worker = Worker(db, [Task("work", work)], poll_interval=0.02)
    await worker.drain()
    assert ran == [2] and worker.stats.recovered == 1
    async with db.session() as s:
        assert not await queue.finish(s, stale.id, "dead-worker")
    [job] = await _jobs(db)
    assert (job.status, job.attempts) == ("done", 2)


async def test_job_that_kills_its_worker_every_time_ends_failed(db: Database) -> None:
    given_up: list[str] = []

    async def never(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        raise AssertionError("must not run again")

    async def give_up(_ctx: JobContext, _payload: dict[str, Any], reason: str) -> None:
        given_up.append(reason)

    task = Task("crashy", never, max_attempts=2, on_give_up=give_up)
    async with db.session() as s:
        await task.enqueue(s, {})
    for n in range(2):  # two workers die holding it
        [_] = await queue.claim(db, f"dead-{n}", None, 1, lease=0.05)
        await asyncio.sleep(0.1)
        await queue.recover_stalled(db)
    await Worker(db, [task], poll_interval=0.02).drain()
    [job] = await _jobs(db)
    assert job.status == "failed"
    assert given_up == ["worker lost: its lease expired while the job was running"]


async def test_graceful_stop_releases_a_running_job_without_counting_the_attempt(
    db: Database,
) -> None:
    started = asyncio.Event()

    async def slow(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(30)

    await _add(db, "slow")
    worker = Worker(db, [Task("slow", slow)], poll_interval=0.02, shutdown_timeout=0.1)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(run, 10)
    [job] = await _jobs(db)
    assert (job.status, job.attempts, job.locked_by) == ("queued", 0, None)
    assert worker.stats.released == 1


async def test_handler_writes_roll_back_when_the_lease_was_lost(db: Database) -> None:
    async def overtaken(ctx: JobContext, _payload: dict[str, Any]) -> None:
        async with ctx.db.session() as s:
            await queue.enqueue(s, "side-effect", {})  # a write that must not survive
            await s.execute(update(Job).where(Job.id == ctx.job_id).values(locked_by="thief"))
            await ctx.finish(s)

    await _add(db, "overtaken")
    await Worker(db, [Task("overtaken", overtaken)], poll_interval=0.02).drain(timeout=5)
    jobs = await _jobs(db)
    assert [j.task for j in jobs] == ["overtaken"]  # the side effect rolled back
