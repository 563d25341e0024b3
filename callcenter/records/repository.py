"""Storage of ``queue_log`` lines, the cursors, and the call-row writes of reconciliation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from callcenter.db.models import Call, Tenant, utcnow
from callcenter.db.session import Database
from callcenter.records.models import QueueLogRow, RecordCursor
from callcenter.records.queue_log import DATA_FIELDS, QueueLogLine
from callcenter.state.records import CallRecord

SOURCE = "queue_log"
_MAX = 255  # width of the data columns
BATCH = 1000  # lines per INSERT


@dataclasses.dataclass(frozen=True, slots=True)
class Cursor:
    byte_offset: int = 0
    reconciled_id: int = 0


def _row(pbx: str, line: QueueLogLine) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pbx": pbx,
        "line_hash": line.line_hash,
        "time": line.time,
        "callid": line.callid[:64],
        "queuename": line.queuename[:80],
        "agent": line.agent[:128],
        "event": line.event[:32],
    }
    for n in range(1, DATA_FIELDS + 1):
        values[f"data{n}"] = line.field(n)[:_MAX]
    return values


def _line(row: QueueLogRow) -> QueueLogLine:
    data = (row.data1, row.data2, row.data3, row.data4, row.data5)
    return QueueLogLine(
        row.time, row.callid, row.queuename, row.agent, row.event, data, row.line_hash
    )


class RecordRepository:
    def __init__(self, db: Database, pbx: str) -> None:
        self._db = db
        self.pbx = pbx

    async def cursor(self) -> Cursor:
        async with self._db.session() as session:
            row = await session.get(RecordCursor, (self.pbx, SOURCE))
        if row is None:
            return Cursor()
        return Cursor(row.byte_offset, row.reconciled_id)

    async def _save_cursor(self, session: Any, **values: int) -> None:
        stmt = self._db.insert(RecordCursor).values(
            pbx=self.pbx,
            source=SOURCE,
            byte_offset=values.get("byte_offset", 0),
            reconciled_id=values.get("reconciled_id", 0),
            updated_at=utcnow(),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RecordCursor.pbx, RecordCursor.source],
            set_={**values, "updated_at": utcnow()},
        )
        await session.execute(stmt)

    async def ingest(self, lines: Sequence[QueueLogLine], byte_offset: int) -> None:
        """Store ``lines`` (a line seen before is skipped) and move the read cursor, in one
        transaction: a crash between the two never loses or doubles a line."""
        async with self._db.session() as session:
            # Batches: SQLite takes at most 32,766 bound values per statement (12 a row).
            for start in range(0, len(lines), BATCH):
                rows = [_row(self.pbx, x) for x in lines[start : start + BATCH]]
                stmt = self._db.insert(QueueLogRow).values(rows)
                await session.execute(stmt.on_conflict_do_nothing())
            await self._save_cursor(session, byte_offset=byte_offset)

    async def ends_after(
        self, reconciled_id: int, limit: int = 500
    ) -> list[tuple[int, QueueLogLine]]:
        """``CC_END`` lines after the reconcile cursor, in file order."""
        query = (
            select(QueueLogRow)
            .where(
                QueueLogRow.pbx == self.pbx,
                QueueLogRow.event == "CC_END",
                QueueLogRow.id > reconciled_id,
            )
            .order_by(QueueLogRow.id)
            .limit(limit)
        )
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [(r.id, _line(r)) for r in rows]

    async def lines_of(self, callids: Sequence[str]) -> dict[str, list[QueueLogLine]]:
        if not callids:
            return {}
        query = select(QueueLogRow).where(
            QueueLogRow.pbx == self.pbx, QueueLogRow.callid.in_(list(callids))
        )
        out: dict[str, list[QueueLogLine]] = {c: [] for c in callids}
        async with self._db.session() as session:
            for row in (await session.scalars(query)).all():
                out[row.callid].append(_line(row))
        return out

    async def mark_reconciled(self, reconciled_id: int) -> None:
        async with self._db.session() as session:
            await self._save_cursor(session, reconciled_id=reconciled_id)

    async def calls(self, linkedids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored call rows by linkedid, as column → value mappings."""
        if not linkedids:
            return {}
        query = select(Call).where(Call.linkedid.in_(list(linkedids)))
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return {
            r.linkedid: {c.name: getattr(r, c.key) for c in Call.__table__.columns} for r in rows
        }

    async def insert_missing(self, record: CallRecord) -> bool:
        """Insert ``record`` unless a row for its linkedid exists meanwhile; True if stored."""
        values: dict[str, Any] = {
            f.name: getattr(record, f.name) for f in dataclasses.fields(record)
        }
        values["extra"] = dict(record.extra)
        values["tenant_id"] = (
            select(Tenant.id).where(Tenant.slug == record.tenant).scalar_subquery()
            if record.tenant
            else None
        )
        stmt = (
            self._db.insert(Call)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[Call.linkedid])
        )
        async with self._db.session() as session:
            result = await session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def complete(self, linkedid: str, updates: dict[str, Any]) -> None:
        values = dict(updates)
        if "tenant" in values:
            values["tenant_id"] = (
                select(Tenant.id).where(Tenant.slug == values["tenant"]).scalar_subquery()
            )
        async with self._db.session() as session:
            await session.execute(update(Call).where(Call.linkedid == linkedid).values(**values))
