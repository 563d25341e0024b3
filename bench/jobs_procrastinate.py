"""The alternative of ADR 0007, measured like ``bench/jobs.py``: procrastinate 3.10 on
PostgreSQL (2000 no-op jobs with 1 and 2 workers, exactly once, ``schedule_at`` lateness
with its default polling). procrastinate is not a project dependency: ``pip install
procrastinate==3.10.0 'psycopg[binary,pool]'`` into the venv first, then
``python -m bench jobs_procrastinate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

SKIP_BY_DEFAULT = True
PG = "postgresql://postgres@127.0.0.1:5432"
N = 2000


async def _admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG + "/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _app(dsn: str, runs: Counter[int], late: list[float], due: dict[int, float]) -> Any:
    from procrastinate import App, PsycopgConnector

    app = App(connector=PsycopgConnector(conninfo=dsn))

    @app.task(name="noop")  # type: ignore[untyped-decorator, unused-ignore]
    async def noop(i: int) -> None:
        runs[i] += 1

    @app.task(name="late")  # type: ignore[untyped-decorator, unused-ignore]
    async def late_task(i: int) -> None:
        late.append(time.time() - due[i])

    return app


async def _run(dsn: str) -> list[str]:
    rows = []
    for workers in (1, 2):
        runs: Counter[int] = Counter()
        apps = [_app(dsn, runs, [], {}) for _ in range(workers)]
        async with apps[0].open_async():
            if workers == 1:
                await apps[0].schema_manager.apply_schema_async()
            await apps[0].tasks["noop"].batch_defer_async(*({"i": i} for i in range(N)))
        began = time.perf_counter()

        async def work(app: Any) -> None:
            async with app.open_async():
                await app.run_worker_async(concurrency=8, wait=False)

        await asyncio.gather(*(work(a) for a in apps))
        rate = N / (time.perf_counter() - began)
        once = sorted(runs) == list(range(N)) and set(runs.values()) == {1}
        rows.append(f"| procrastinate 3.10 | {N} no-op jobs, {workers} worker(s) x 8 | "
                    f"{rate:,.0f} jobs/s | each exactly once: {once} |")  # fmt: skip
    late: list[float] = []
    due: dict[int, float] = {}
    app = _app(dsn, Counter(), late, due)
    async with app.open_async():
        task = app.tasks["late"]
        now = datetime.now(UTC)
        for i in range(40):
            at = now + timedelta(seconds=1.0 + i * 0.05)
            due[i] = at.timestamp()
            await task.configure(schedule_at=at).defer_async(i=i)
        worker = asyncio.create_task(app.run_worker_async(concurrency=4))
        while len(late) < 40:  # noqa: ASYNC110 - polling a plain list is the simplest here
            await asyncio.sleep(0.05)
        worker.cancel()
        with contextlib.suppress(BaseException):
            await worker
    late.sort()
    rows.append(f"| procrastinate 3.10 | schedule_at lateness (default polling) | p50 "
                f"{statistics.median(late) * 1000:.0f} ms, p95 {late[37] * 1000:.0f} ms, "
                f"max {late[-1] * 1000:.0f} ms | 40 jobs |")  # fmt: skip
    return rows


async def _main() -> None:
    name = f"bench_procr_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        rows = await _run(f"{PG}/{name}")
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("\n".join(rows))


def main() -> None:
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        print("not installed: pip install procrastinate==3.10.0 psycopg[binary,pool]")
        return
    asyncio.run(_main())
