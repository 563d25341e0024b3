"""The job engine (jobs/) on SQLite and PostgreSQL: throughput with 1 and 2 workers,
exactly-once, lateness of scheduled jobs, idle pick-up delay, stalled-job recovery.

``python -m bench jobs [--jobs 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]``.
The PostgreSQL part makes a database ``bench_jobs_<random>`` and drops it afterwards.
Figures go to docs/benchmarks.md and ADR 0007.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from callcenter.db import migrate
from callcenter.db.models import utcnow
from callcenter.db.session import Database
from jobs import queue
from jobs.models import Job
from jobs.worker import JobContext, Task, Worker

SKIP_BY_DEFAULT = True


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _reset(db: Database) -> None:
    async with db.session() as s:
        await s.execute(delete(Job))


async def throughput(url: str, n: int, workers: int) -> tuple[float, Counter[int]]:
    runs: Counter[int] = Counter()

    async def handler(_ctx: JobContext, payload: dict[str, Any]) -> None:
        runs[payload["i"]] += 1

    task = Task("bench.noop", handler)
    dbs = [Database(url) for _ in range(workers)]  # separate pools, like separate processes
    try:
        await _reset(dbs[0])
        async with dbs[0].session() as s:
            for i in range(n):
                await queue.enqueue(s, task.name, {"i": i})
        began = time.perf_counter()
        await asyncio.gather(
            *(Worker(db, [task], concurrency=8, poll_interval=0.05).drain(600) for db in dbs)
        )
        elapsed = time.perf_counter() - began
    finally:
        for db in dbs:
            await db.close()
    return n / elapsed, runs


async def lateness(url: str, n: int, poll: float) -> list[float]:
    """Seconds between a job's run_at and the moment its handler started."""
    late: list[float] = []
    due: dict[int, float] = {}

    async def handler(_ctx: JobContext, payload: dict[str, Any]) -> None:
        late.append(time.time() - due[payload["i"]])

    task = Task("bench.late", handler)
    db = Database(url)
    try:
        await _reset(db)
        now = utcnow()
        async with db.session() as s:
            for i in range(n):
                at = now + timedelta(seconds=1.0 + i * 0.05)
                due[i] = at.timestamp()
                await queue.enqueue(s, task.name, {"i": i}, run_at=at)
        worker = Worker(db, [task], poll_interval=poll)
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        while len(late) < n:  # noqa: ASYNC110 - polling a plain list is the simplest here
            await asyncio.sleep(0.05)
        stop.set()
        await run
    finally:
        await db.close()
    return late


async def recovery(url: str, lease: float) -> float:
    """Seconds from a worker's death (its last heartbeat) to the job done by another."""
    done = asyncio.Event()

    async def handler(_ctx: JobContext, _payload: dict[str, Any]) -> None:
        done.set()

    task = Task("bench.recover", handler)
    db = Database(url)
    try:
        await _reset(db)
        async with db.session() as s:
            await queue.enqueue(s, task.name, {})
        await queue.claim(db, "dead", None, 1, lease)
        died = time.perf_counter()
        worker = Worker(db, [task], lease=lease, poll_interval=0.1)
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        await asyncio.wait_for(done.wait(), lease * 5)
        took = time.perf_counter() - died
        stop.set()
        await run
    finally:
        await db.close()
    return took


async def backend(name: str, url: str, n: int) -> list[str]:
    await asyncio.to_thread(migrate.upgrade, url)
    rows = []
    for workers in (1, 2):
        rate, runs = await throughput(url, n, workers)
        once = sorted(runs) == list(range(n)) and set(runs.values()) == {1}
        rows.append(f"| {name} | {n} no-op jobs, {workers} worker(s) x 8 | {rate:,.0f} jobs/s | "
                    f"each exactly once: {once} |")  # fmt: skip
    for poll in (0.5, 0.1):
        late = await lateness(url, 40, poll)
        p50, p95 = statistics.median(late) * 1000, pct(late, 0.95) * 1000
        rows.append(f"| {name} | schedule_at lateness, poll {poll} s | p50 {p50:.0f} ms, "
                    f"p95 {p95:.0f} ms, max {max(late) * 1000:.0f} ms | 40 jobs |")  # fmt: skip
    took = await recovery(url, 2.0)
    rows.append(f"| {name} | stalled job (lease 2 s) done by another worker | {took:.2f} s "
                "after the dead worker's claim | |")  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench jobs", description=__doc__)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    rows = ["| backend | what | figure | note |", "| --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'jobs.sqlite3'}"
        rows += asyncio.run(backend("SQLite (WAL)", sqlite, args.jobs))
    import asyncpg  # type: ignore[import-untyped]

    name = f"bench_jobs_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(args.pg)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        base = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        rows += asyncio.run(backend("PostgreSQL", f"{base}/{name}", args.jobs))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
