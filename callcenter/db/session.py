"""The async engine and session factory, built from one URL (``Config.database_url``).

SQLite is the embedded default and gets the pragmas that make it safe for a server:
WAL (readers never block the writer), enforced foreign keys and a busy timeout instead of
immediate "database is locked" errors. PostgreSQL gets a sized connection pool.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 5000
TURN_TIMEOUT_S = 30.0  # as long as a pool lets a checkout wait
SESSIONS_AT_ONCE = 4  # PostgreSQL: sessions one process runs side by side (see _Turns)
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class DatabaseURLError(ValueError):
    """The database URL names an unsupported driver or is malformed."""


def parse_url(url: str) -> URL:
    """Parse and check a database URL; the error names the URL (without password)."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError with a terse message
        raise DatabaseURLError(f"malformed database URL {url!r}: {exc}") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseURLError(
            f"database URL {parsed.render_as_string(hide_password=True)!r}: driver "
            f"{parsed.drivername!r} not supported; use one of {', '.join(SUPPORTED_DRIVERS)}"
        )
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
    finally:
        cursor.close()


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, null_pool: bool = False
) -> AsyncEngine:
    """An async engine for ``url`` with the per-backend settings described above.

    ``null_pool`` opens a connection per use (migrations, one-shot CLI commands).
    """
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if null_pool:
        kwargs["poolclass"] = NullPool
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    elif not null_pool:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class _Turns:
    """A process runs at most ``capacity`` sessions at once, first come first served, except
    that a session somebody waits for (``priority``: a receptionist's offer) goes first.

    PostgreSQL (``database.sessions_at_once``, default 4): side by side without a bound,
    about 16 sessions were in flight in the callback bench, each waiting for the event loop
    between its round trips, and the offer's fence took p50 150-210 ms; at most 4 at once,
    the fence first: p50 25 ms, dispatch p99 418-647 -> 159 ms (bench/callbacks.py).

    SQLite (always 1) has one writer. Left to itself, a connection that finds the database locked
    sleeps in growing steps (up to 100 ms) and retries, while the one that just committed
    takes the lock again: under load a short write waited up to 2.7 s behind a stream of
    others (the callback dialler's offer fences, bench/callbacks.py), and a transaction
    that read before writing could fail at once with "database is locked" when another
    connection wrote in between (WAL's stale snapshot, which no busy timeout retries).
    Queued here instead, every session runs alone. A session opened inside another one by
    the same task does not wait (it would wait for itself)."""

    def __init__(self, capacity: int = 1) -> None:
        self._capacity = capacity
        # One per event loop (a test suite runs several in turn); gone with its loop.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopTurns] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def turn(self, priority: bool) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turns = self._loops.get(loop)
        if turns is None:
            turns = self._loops[loop] = _LoopTurns(loop, self._capacity)
        task = asyncio.current_task()
        if task is not None and task in turns.owners:
            yield
            return
        await turns.acquire(priority)
        if task is not None:
            turns.owners.add(task)
        try:
            yield
        finally:
            if task is not None:
                turns.owners.discard(task)
            turns.release()


class _LoopTurns:
    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self._loop = loop
        self._capacity = capacity
        self._held = 0
        self.owners: set[asyncio.Task[object]] = set()
        self._first: deque[asyncio.Future[None]] = deque()
        self._rest: deque[asyncio.Future[None]] = deque()

    async def acquire(self, priority: bool) -> None:
        if self._held < self._capacity and not (self._first or self._rest):
            self._held += 1
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        line = self._first if priority else self._rest
        line.append(waiter)
        try:
            async with asyncio.timeout(TURN_TIMEOUT_S):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn in the moment we gave up: pass it on
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise TimeoutError(
                    f"no database session free within {TURN_TIMEOUT_S:g} s (sessions "
                    "held that long, or one opened by a task its holder awaits)"
                ) from None
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (priority first), or free it."""
        for line in (self._first, self._rest):
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes on: still held
                    return
        self._held -= 1


class Database:
    """One engine plus its session factory; create once per process, close on shutdown."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        sessions_at_once: int = SESSIONS_AT_ONCE,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, pool_size=pool_size, echo=echo)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        sqlite = self.engine.dialect.name == "sqlite"
        self._turns = _Turns(1 if sqlite else sessions_at_once)

    @property
    def backend(self) -> str:
        """``"postgresql"`` or ``"sqlite"``."""
        return self.engine.dialect.name

    def insert(self, table: Any) -> postgresql.Insert | sqlite.Insert:
        """An INSERT for ``table`` with this backend's ``ON CONFLICT`` methods (upserts)."""
        if self.backend == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @asynccontextmanager
    async def session(self, *, priority: bool = False) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block succeeds and rolls back when it raises.

        ``priority``: somebody is waiting for this one: it goes before the queued ones."""
        async with self._turns.turn(priority), self._session() as session:
            yield session

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self, timeout: float = 3.0) -> tuple[bool, str]:
        """For ``/healthz``: ``(True, "postgresql ok")`` or ``(False, "<why>")``. Never raises.

        The timeout matters: a black-holed server would otherwise hang the health check.
        """
        try:
            async with asyncio.timeout(timeout):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return False, f"{self.backend}: no answer within {timeout:g} s"
        except (SQLAlchemyError, OSError) as exc:
            return False, f"{self.backend}: {type(exc).__name__}: {exc}".splitlines()[0]
        return True, f"{self.backend} ok"

    async def close(self) -> None:
        """Dispose of the pool; the object must not be used afterwards."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"


DATABASE: web.AppKey[Database] = web.AppKey("database", Database)
"""Where the aiohttp application keeps its :class:`Database`."""
