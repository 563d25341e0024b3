"""The task that copies ``queue_log`` into the database and reconciles call rows from it.

Each round: read the whole new lines after the stored byte offset, store them with the new
offset in one transaction, then take every ``CC_END`` older than ``grace`` seconds and
insert or complete its call row (:mod:`callcenter.records.reconcile`). A failing round (the
database is down, the file unreadable) is logged once and retried next round; nothing is
lost because the cursor only moves together with what it stands for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from callcenter.records import reconcile
from callcenter.records.queue_log import read_from
from callcenter.records.repository import RecordRepository

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RecordStats:
    lines: int = 0  # queue_log lines stored
    skipped: int = 0  # lines that did not parse
    inserted: int = 0  # call rows created from queue_log (the app never stored the call)
    completed: int = 0  # call rows completed (agent, wait, talk …)
    failures: int = 0  # rounds that failed (database or file unavailable)


class RecordService:
    def __init__(
        self,
        repo: RecordRepository,
        path: Path,
        *,
        region: str = "DE",
        grace: float = 3.0,
        interval: float = 1.0,
        is_leader: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repo = repo
        self.path = path
        self.region = region
        self.grace = grace
        self.interval = interval
        self.is_leader = is_leader
        self.clock = clock
        self.stats = RecordStats()
        # Told the linkedid of every row inserted or completed (the statistics' rollups).
        self.on_call_stored: Callable[[str], None] = lambda linkedid: None
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._path_warned = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            if self.is_leader():
                try:
                    await self.run_once()
                except (SQLAlchemyError, OSError) as exc:
                    self.stats.failures += 1
                    if not self._failing:  # once per outage, not once per round
                        log.warning("records: queue_log round failed, will retry: %s", exc)
                    self._failing = True
                else:
                    if self._failing:
                        log.info("records: queue_log reconciliation running again")
                    self._failing = False
            await asyncio.sleep(self.interval)

    async def run_once(self) -> None:
        """One round: ingest what is new, then reconcile what is due."""
        await self.ingest()
        await self.reconcile()

    async def ingest(self) -> int:
        if not self._path_warned and not await asyncio.to_thread(self.path.exists):
            self._path_warned = True
            log.warning("records: %s does not exist (yet); no queue_log to reconcile", self.path)
        cursor = await self.repo.cursor()
        total = 0
        offset = cursor.byte_offset
        while True:
            read = await asyncio.to_thread(read_from, self.path, offset)
            if read.offset == offset and not read.lines:
                break
            await self.repo.ingest(read.lines, read.offset)
            self.stats.lines += len(read.lines)
            self.stats.skipped += read.skipped
            total += len(read.lines)
            offset = read.offset
        return total

    async def reconcile(self) -> None:
        reconciled = (await self.repo.cursor()).reconciled_id
        now = self.clock()
        while True:
            ends = await self.repo.ends_after(reconciled)
            # Stop at the first end that is not due: the cursor never skips one.
            ready = list(
                itertools.takewhile(lambda e: reconcile.due(e[1].time, now, self.grace), ends)
            )
            if not ready:
                return
            lines = await self.repo.lines_of([e.callid for _, e in ready])
            rows = await self.repo.calls([e.field(1) for _, e in ready])
            for _, end in ready:
                call = reconcile.summarise(end, lines.get(end.callid, []))
                if not call.linkedid:
                    continue
                row = rows.get(call.linkedid)
                if row is None:
                    if await self.repo.insert_missing(reconcile.record_from(call, self.region)):
                        self.stats.inserted += 1
                        self.on_call_stored(call.linkedid)
                        log.info("records: call %s stored from queue_log", call.linkedid)
                    continue
                updates = reconcile.completion(row, call)
                if updates:
                    await self.repo.complete(call.linkedid, updates)
                    self.stats.completed += 1
                    self.on_call_stored(call.linkedid)
            reconciled = ready[-1][0]
            await self.repo.mark_reconciled(reconciled)
            if len(ready) < len(ends):
                return
