"""CallRepository on real PostgreSQL and on a SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from callcenter.db import migrate
from callcenter.db.calls import CallRepository, InvalidCallRecord
from callcenter.db.models import Call, NaiveDatetimeError, Tenant
from callcenter.db.session import Database
from callcenter.state.records import CallRecord, EventRow

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
async def db(
    request: pytest.FixtureRequest, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = pg_url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('calls') / 'cc.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.close()


async def _tenant(db: Database) -> tuple[int, str]:
    slug = f"t-{uuid.uuid4().hex[:8]}"
    async with db.session() as session:
        tenant = Tenant(slug=slug, name=f"Müller GmbH {slug}")
        session.add(tenant)
        await session.flush()
        return tenant.id, slug


def _record(slug: str | None, **kw: object) -> CallRecord:
    base = CallRecord(
        linkedid=f"{uuid.uuid4().hex[:12]}.1",
        entered_at=T0,
        ended_at=T0 + timedelta(seconds=95),
        outcome="answered",
        tenant=slug,
        did="+493012345678",
        caller="+491701234567",
        caller_raw="01701234567",
        caller_name="Jörg Schäfer",
        language="de",
        queue="q-muller",
        agent="Local/agent1@agents",
        queued_at=T0 + timedelta(seconds=10),
        answered_at=T0 + timedelta(seconds=25),
        wait_seconds=15.0,
        talk_seconds=70.0,
        hangup_cause="16",
        extra={"ivr": ["lang:de", "menu:1"]},
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


async def _count(db: Database, linkedid: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(Call.linkedid == linkedid)) or 0)


async def test_roundtrip_keeps_every_field_and_resolves_tenant(db: Database) -> None:
    tenant_id, slug = await _tenant(db)
    repo = CallRepository(db)
    record = _record(slug)
    await repo.record_finished(record)
    assert await repo.get(record.linkedid) == record
    assert await repo.tenant_id_of(record.linkedid) == tenant_id
    stored = await repo.get(record.linkedid)
    assert stored is not None and stored.entered_at.tzinfo is not None


async def test_same_call_twice_is_one_row_latest_wins(db: Database) -> None:
    _, slug = await _tenant(db)
    repo = CallRepository(db)
    first = _record(slug, outcome="lost", answered_at=None, talk_seconds=None)
    await repo.record_finished(first)
    again = dataclasses.replace(first, outcome="answered", talk_seconds=42.0)
    await repo.record_finished(again)
    await repo.record_finished(again)
    assert await _count(db, first.linkedid) == 1
    assert await repo.get(first.linkedid) == again


async def test_unknown_tenant_slug_keeps_the_call(db: Database) -> None:
    repo = CallRepository(db)
    record = _record("no-such-tenant")
    await repo.record_finished(record)
    assert await repo.tenant_id_of(record.linkedid) is None
    stored = await repo.get(record.linkedid)
    assert stored is not None and stored.tenant == "no-such-tenant"


async def test_other_timezones_are_stored_as_utc(db: Database) -> None:
    berlin = timezone(timedelta(hours=1))
    record = _record(
        None,
        entered_at=T0.astimezone(berlin),
        ended_at=(T0 + timedelta(minutes=1)).astimezone(berlin),
    )
    repo = CallRepository(db)
    await repo.record_finished(record)
    stored = await repo.get(record.linkedid)
    assert stored is not None
    assert stored.entered_at == T0 and stored.entered_at.utcoffset() == timedelta(0)


async def test_bad_records_are_refused_with_the_reason(db: Database) -> None:
    repo = CallRepository(db)
    with pytest.raises(InvalidCallRecord, match="outcome 'hungup'"):
        await repo.record_finished(_record(None, outcome="hungup"))
    with pytest.raises(InvalidCallRecord, match=r"ended_at .* is before entered_at"):
        await repo.record_finished(_record(None, ended_at=T0 - timedelta(seconds=1)))
    with pytest.raises(InvalidCallRecord, match="entered_at is a naive datetime"):
        await repo.record_finished(
            _record(None, entered_at=datetime(2026, 1, 1), ended_at=datetime(2026, 1, 2))
        )


async def test_naive_datetime_is_rejected_by_the_column_type(db: Database) -> None:
    # SQLAlchemy wraps the type's error; the original says what was wrong.
    with pytest.raises(StatementError, match="naive datetime 2026-01-01T00:00:00 refused") as err:
        async with db.session() as session:
            session.add(
                Tenant(slug=f"n-{uuid.uuid4().hex[:6]}", name="x", created_at=datetime(2026, 1, 1))
            )
            await session.flush()
    assert isinstance(err.value.orig, NaiveDatetimeError)


async def test_outcome_check_constraint_holds_in_the_database(db: Database) -> None:
    with pytest.raises(IntegrityError, match=r"ck_calls_outcome|CHECK constraint"):
        async with db.session() as session:
            session.add(
                Call(
                    linkedid=uuid.uuid4().hex, entered_at=T0, ended_at=T0, outcome="bogus", extra={}
                )
            )
            await session.flush()


async def test_list_calls_filters_by_tenant_and_window(db: Database) -> None:
    tenant_a, slug_a = await _tenant(db)
    tenant_b, slug_b = await _tenant(db)
    repo = CallRepository(db)
    day = datetime(2026, 5, 4, tzinfo=UTC)
    made = []
    for i in range(5):
        rec = _record(
            slug_a if i % 2 == 0 else slug_b,
            entered_at=day + timedelta(hours=i),
            ended_at=day + timedelta(hours=i, minutes=2),
        )
        made.append(rec)
        await repo.record_finished(rec)
    in_a = await repo.list_calls(tenant_a, since=day, until=day + timedelta(days=1))
    assert [r.linkedid for r in in_a] == [made[0].linkedid, made[2].linkedid, made[4].linkedid]
    window = await repo.list_calls(
        None, since=day + timedelta(hours=1), until=day + timedelta(hours=3)
    )
    assert [r.linkedid for r in window] == [made[1].linkedid, made[2].linkedid]
    limited = await repo.list_calls(tenant_b, since=day, limit=1)
    assert [r.linkedid for r in limited] == [made[1].linkedid]
    isolated = await repo.list_calls(
        since=day, until=day + timedelta(days=1), tenant_ids={tenant_b}
    )
    assert {r.tenant for r in isolated} == {slug_b}
    assert await repo.list_calls(since=day, tenant_ids=set()) == []
    with pytest.raises(ValueError, match="since is a naive datetime"):
        await repo.list_calls(since=datetime(2026, 1, 1))


async def test_events_append_only_and_ordered(db: Database) -> None:
    repo = CallRepository(db)
    linkedid = uuid.uuid4().hex
    events: list[EventRow] = [
        (linkedid, T0 + timedelta(seconds=2), "QueueCallerJoin", {"queue": "q1", "position": 1}),
        (linkedid, T0, "Newchannel", {"channel": "Local/100@from-trunk-0001;1"}),
        (linkedid, T0 + timedelta(seconds=9), "Hangup", {"cause": 16}),
    ]
    await repo.append_events(events)
    await repo.append_events([])
    stored = await repo.events(linkedid)
    assert [e[2] for e in stored] == ["Newchannel", "QueueCallerJoin", "Hangup"]
    assert stored[1][3] == {"queue": "q1", "position": 1}
    with pytest.raises(ValueError, match=r"event #1 .* naive datetime"):
        await repo.append_events(
            [(linkedid, T0, "A", {}), (linkedid, datetime(2026, 1, 1), "B", {})]
        )
    assert len(await repo.events(linkedid)) == 3  # the refused batch left nothing behind


def test_sqlite_path_parent_is_created(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "cc.sqlite3"
    Database(f"sqlite+aiosqlite:///{target}")
    assert target.parent.is_dir()
