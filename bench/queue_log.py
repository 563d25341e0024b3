"""Benchmark: queue_log ingestion and reconciliation (ADR 0004) on SQLite.

Writes a synthetic ``queue_log`` in the shape the sandbox writes (per answered call:
CC_START, ENTERQUEUE, CONNECT, COMPLETECALLER, CC_END; per abandoned call: CC_START,
ENTERQUEUE, ABANDON, CC_END), then times one :class:`RecordService` copying it into
``pbx_queue_log`` and creating every call row from it (the app never saw these calls: the
worst case, e.g. a long app outage). Wall time (the work is I/O-bound on the database).

    .venv/bin/python -m bench queue_log
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench import Result
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.records.repository import RecordRepository
from callcenter.records.service import RecordService

CALLS = 5_000
T0 = 1_700_000_000


def write_log(path: Path, calls: int) -> int:
    lines = []
    for n in range(calls):
        t = T0 + n * 3
        uid, linked = f"in-{n}", f"lk-{n}"
        lines.append(f"{t}|{uid}|NONE|NONE|CC_START|{linked}|+4930111|+49170{n:07d}")
        lines.append(f"{t + 5}|{uid}|q-bench|NONE|ENTERQUEUE||+49170{n:07d}|1")
        if n % 4:
            lines.append(f"{t + 9}|{uid}|q-bench|anna|CONNECT|4|agent-{n}|2")
            lines.append(f"{t + 70}|{uid}|q-bench|anna|COMPLETECALLER|4|61|1")
        else:
            lines.append(f"{t + 20}|{uid}|q-bench|NONE|ABANDON|1|1|15")
        lines.append(f"{t + 71}|{uid}|NONE|NONE|CC_END|{linked}|bench|+4930111|+49170{n:07d}|")
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


async def measure(calls: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "queue_log"
        count = write_log(log, calls)
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        try:
            service = RecordService(RecordRepository(db, "bench"), log, grace=0.0)
            started = time.perf_counter()
            await service.ingest()
            ingested = time.perf_counter()
            await service.reconcile()
            done = time.perf_counter()
        finally:
            await db.close()
        assert service.stats.inserted == calls, service.stats
        size = log.stat().st_size
    return [
        Result("queue_log", "ingest", count / (ingested - started), "lines/s", f"{count} lines"),
        Result("queue_log", "reconcile", calls / (done - ingested), "calls/s", "rows created"),
        Result("queue_log", "file size", size / calls, "bytes/call", "4.5 lines/call"),
    ]


def run(rounds: int) -> list[Result]:
    best: list[Result] | None = None
    for _ in range(rounds):
        results = asyncio.run(measure(CALLS))
        if best is None or results[0].value > best[0].value:
            best = results
    assert best is not None
    return best
