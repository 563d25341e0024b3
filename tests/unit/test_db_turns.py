"""Sessions take turns (callcenter.db.session._Turns): SQLite one at a time, on a real
SQLite file; a larger capacity (PostgreSQL's) as a pure unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from callcenter.db import session as db_session
from callcenter.db.session import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    async with database.session() as s:
        await s.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await s.execute(text("INSERT INTO counter VALUES (1, 0)"))
    yield database
    await database.close()


@asynccontextmanager
async def _held(db: Database) -> AsyncIterator[None]:
    """Another task holds a session (the only turn) until the block ends."""
    release = asyncio.Event()

    async def holder() -> None:
        async with db.session():
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        await held


async def _count(db: Database) -> int:
    async with db.session() as s:
        return int((await s.execute(text("SELECT n FROM counter WHERE id = 1"))).scalar_one())


async def test_read_then_write_sessions_side_by_side_lose_nothing(db: Database) -> None:
    """Each session reads, yields to the others, then writes: with the pool's connections
    side by side, WAL refused the write of a stale snapshot at once ("database is
    locked", no busy timeout retries it); taking turns, all 40 increments land."""

    async def increment() -> None:
        async with db.session() as s:
            n = (await s.execute(text("SELECT n FROM counter WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0.001)
            await s.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(40)))
    assert await _count(db) == 40


async def test_a_priority_session_goes_before_the_queued_ones(db: Database) -> None:
    release = asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with db.session():
            order.append("holder")
            await release.wait()

    async def queued(name: str, priority: bool) -> None:
        async with db.session(priority=priority):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    tasks = [asyncio.create_task(queued(f"background-{i}", False)) for i in range(3)]
    await asyncio.sleep(0.01)
    tasks.append(asyncio.create_task(queued("offer", True)))
    await asyncio.sleep(0.01)
    assert order == ["holder"]  # everybody else waits for the turn
    release.set()
    await asyncio.gather(first, *tasks)
    assert order == ["holder", "offer", "background-0", "background-1", "background-2"]


async def test_a_session_inside_a_session_of_the_same_task_does_not_wait_for_itself(
    db: Database,
) -> None:
    async with asyncio.timeout(5):
        async with db.session() as outer:
            await outer.execute(text("SELECT 1"))
            assert await _count(db) == 0


async def test_a_waiter_gives_up_with_a_clear_error_and_the_turn_goes_on(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "TURN_TIMEOUT_S", 0.05)
    async with _held(db):
        with pytest.raises(TimeoutError, match=r"no database session free within 0\.05 s"):
            await _count(db)
    assert await _count(db) == 0  # the timed-out waiter left no turn behind


async def test_a_cancelled_waiter_leaves_the_line(db: Database) -> None:
    async with _held(db):
        waiter = asyncio.create_task(_count(db))
        await asyncio.sleep(0.01)
        waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    async with asyncio.timeout(5):
        assert await _count(db) == 0


async def test_with_a_capacity_of_two_a_third_waits_and_a_priority_one_goes_first() -> None:
    turns = db_session._Turns(2)
    release = asyncio.Event()
    order: list[str] = []

    async def session(name: str, priority: bool = False, hold: bool = False) -> None:
        async with turns.turn(priority):
            order.append(name)
            if hold:
                await release.wait()

    holders = [asyncio.create_task(session(f"holder-{i}", hold=True)) for i in range(2)]
    await asyncio.sleep(0.01)
    later = asyncio.create_task(session("background"))
    await asyncio.sleep(0.01)
    urgent = asyncio.create_task(session("offer", priority=True))
    await asyncio.sleep(0.01)
    assert order == ["holder-0", "holder-1"]  # two at once, the others wait
    release.set()
    await asyncio.gather(*holders, later, urgent)
    assert order[2:] == ["offer", "background"]
