"""Call repository: finished calls (one row per linkedid) and the append-only call event log.

Storing a finished call is an upsert keyed by linkedid, so seeing the same call twice (after
an AMI resync, a replay, a retried write) never creates a second row: the latest record wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from callcenter.db.models import OUTCOMES, Call, CallEvent, Tenant
from callcenter.db.session import Database
from callcenter.state.records import CallRecord, EventRow

_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(CallRecord))


class InvalidCallRecord(ValueError):
    """A record that cannot be stored; the message names the linkedid and the field."""


def _check(record: CallRecord) -> None:
    where = f"call {record.linkedid!r}"
    if not record.linkedid:
        raise InvalidCallRecord("call record without linkedid")
    if record.outcome not in OUTCOMES:
        raise InvalidCallRecord(
            f"{where}: outcome {record.outcome!r} is not one of {', '.join(OUTCOMES)}"
        )
    for name in ("entered_at", "ended_at", "queued_at", "answered_at"):
        value = getattr(record, name)
        if value is not None and value.tzinfo is None:
            raise InvalidCallRecord(f"{where}: {name} is a naive datetime; use UTC-aware values")
    if record.ended_at < record.entered_at:
        raise InvalidCallRecord(
            f"{where}: ended_at {record.ended_at.isoformat()} is before "
            f"entered_at {record.entered_at.isoformat()}"
        )
    for name in ("wait_seconds", "talk_seconds"):
        value = getattr(record, name)
        if value is not None and value < 0:
            raise InvalidCallRecord(f"{where}: {name} is negative ({value})")


class CallRepository:
    """Persistence for finished calls and call events."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record_finished(self, record: CallRecord) -> None:
        """Store ``record``; a second call with the same linkedid replaces the first.

        The tenant slug is resolved to ``tenant_id`` in the same statement; an unknown slug
        keeps the slug and leaves ``tenant_id`` empty rather than losing the call.
        """
        _check(record)
        values: dict[str, Any] = {name: getattr(record, name) for name in _RECORD_FIELDS}
        values["extra"] = dict(record.extra)
        values["tenant_id"] = (
            select(Tenant.id).where(Tenant.slug == record.tenant).scalar_subquery()
            if record.tenant
            else None
        )
        stmt = self._db.insert(Call).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Call.linkedid],
            set_={name: stmt.excluded[name] for name in values if name != "linkedid"},
        )
        async with self._db.session() as session:
            await session.execute(stmt)

    async def append_events(self, events: Sequence[EventRow]) -> None:
        """Append events to the log in one transaction (all or nothing)."""
        if not events:
            return
        rows = []
        for index, (linkedid, at, type_, data) in enumerate(events):
            if not linkedid or not type_:
                raise ValueError(f"event #{index}: linkedid and type must be non-empty")
            if at.tzinfo is None:
                raise ValueError(f"event #{index} ({linkedid} {type_}): naive datetime {at}")
            rows.append({"linkedid": linkedid, "at": at, "type": type_, "data": dict(data)})
        async with self._db.session() as session:
            await session.execute(insert(CallEvent), rows)

    async def events(self, linkedid: str) -> list[EventRow]:
        """The logged events of one call, oldest first."""
        query = (
            select(CallEvent)
            .where(CallEvent.linkedid == linkedid)
            .order_by(CallEvent.at, CallEvent.id)
        )
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [(r.linkedid, r.at, r.type, r.data) for r in rows]

    async def get(self, linkedid: str) -> CallRecord | None:
        """The stored call, or ``None``."""
        async with self._db.session() as session:
            row = await session.scalar(select(Call).where(Call.linkedid == linkedid))
        return row.to_record() if row is not None else None

    async def tenant_id_of(self, linkedid: str) -> int | None:
        """The resolved tenant id of a stored call (``None`` if unknown or not stored)."""
        async with self._db.session() as session:
            result: int | None = await session.scalar(
                select(Call.tenant_id).where(Call.linkedid == linkedid)
            )
        return result

    async def list_calls(
        self,
        tenant_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        *,
        tenant_ids: Collection[int] | None = None,
    ) -> list[CallRecord]:
        """Calls that entered in ``[since, until)``, oldest first.

        ``tenant_id`` selects one tenant (``None``: all); ``tenant_ids`` additionally restricts
        to a set (pass ``Principal.tenant_ids`` to enforce tenant isolation).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} is a naive datetime ({value}); use UTC-aware values")
        query = select(Call)
        if tenant_id is not None:
            query = query.where(Call.tenant_id == tenant_id)
        if tenant_ids is not None:
            query = query.where(Call.tenant_id.in_(list(tenant_ids)))
        if since is not None:
            query = query.where(Call.entered_at >= since)
        if until is not None:
            query = query.where(Call.entered_at < until)
        query = query.order_by(Call.entered_at, Call.id).limit(limit)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [row.to_record() for row in rows]
