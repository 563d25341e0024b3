"""Rollups on PostgreSQL and the embedded SQLite: kept current as calls are stored,
idempotent under the call row's upsert, local days in the tenant's time zone, rebuild."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.services import ObservedCalls
from callcenter.state.records import CallRecord
from stats import billing, reports
from stats.period import parse_period, zone
from stats.rollups import RollupUpdater, rebuild

BERLIN = zone("Europe/Berlin")
# 23:50 and 00:10 local time on 2026-03-02/03 (UTC+1): two local days, one UTC day.
LATE = datetime(2026, 3, 2, 22, 50, tzinfo=UTC)
EARLY = datetime(2026, 3, 2, 23, 10, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(
    request: pytest.FixtureRequest, pg_url: str, tmp_path: Path
) -> AsyncIterator[Database]:
    url = pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/s.db"
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.close()


async def tenant(db: Database) -> tuple[int, str]:
    slug = f"sr-{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        t = Tenant(slug=slug, name="Rollup GmbH", timezone="Europe/Berlin")
        s.add(t)
        await s.flush()
        return t.id, slug


def call(slug: str, at: datetime, outcome: str = "answered", wait: float = 4.0) -> CallRecord:
    return CallRecord(
        linkedid=f"sr-{uuid.uuid4().hex}",
        entered_at=at,
        ended_at=at + timedelta(minutes=2),
        outcome=outcome,  # type: ignore[arg-type]
        tenant=slug,
        queue="q-sr",
        agent="Anna" if outcome == "answered" else None,
        queued_at=at + timedelta(seconds=5),
        answered_at=at + timedelta(seconds=5 + wait) if outcome == "answered" else None,
        wait_seconds=wait,
        talk_seconds=60.0 if outcome == "answered" else None,
    )


async def test_rollups_follow_stored_calls_once_per_call(db: Database) -> None:
    tenant_id, slug = await tenant(db)
    updater = RollupUpdater(db, delay=0.01)
    await updater.start()
    sink = ObservedCalls(CallRepository(db), updater.call_stored)
    try:
        first = call(slug, LATE)
        await sink.record_finished(first)
        await sink.record_finished(call(slug, EARLY, "abandoned", 3.0))
        # The same call stored again (a resync): still one call, its new facts replace the old.
        await sink.record_finished(replace(first, wait_seconds=30.0))
        await updater.flush()
    finally:
        await updater.close()
    day1 = parse_period("day", BERLIN, day="2026-03-02")
    day2 = parse_period("day", BERLIN, day="2026-03-03")
    r1 = await reports.tenant_report(db, tenant_id, day1)
    r2 = await reports.tenant_report(db, tenant_id, day2)
    assert (r1["totals"]["offered"], r1["totals"]["answered"]) == (1, 1)
    assert r1["totals"]["wait_answered"] == 30.0 and r1["totals"]["answered_in_sl"] == 0
    assert (r2["totals"]["offered"], r2["totals"]["abandoned"]) == (1, 1)
    assert r2["totals"]["abandoned_short"] == 1  # 3 s < the default 5 s
    assert [p["at"] for p in r1["trend"]] == ["2026-03-02T23:00"]  # local hour
    assert r1["heatmap"]["offered"][0][23] == 1  # Monday 23:00 local
    assert r1["receptionists"]["Anna"]["answered"] == 1
    month = parse_period("month", BERLIN, month="2026-03")
    bill = await billing.monthly_billing(db, tenant_id, month)
    assert [d["offered"] for d in bill.days[1:3]] == [1, 1] and bill.totals["answered"] == 1
    assert bill.totals["handled_seconds"] == 60


async def test_rebuild_recomputes_the_same_figures(db: Database) -> None:
    tenant_id, slug = await tenant(db)
    repo = CallRepository(db)
    for n in range(12):
        await repo.record_finished(call(slug, LATE + timedelta(minutes=7 * n), wait=2.0 * n))
    month = parse_period("month", BERLIN, month="2026-03")
    assert (await reports.tenant_report(db, tenant_id, month))["totals"]["offered"] == 0
    assert await rebuild(db, month.start, month.end, [tenant_id]) == 12
    first = await reports.tenant_report(db, tenant_id, month)
    assert first["totals"]["offered"] == 12 and first["totals"]["answered_in_sl"] == 11
    assert await rebuild(db, month.start, month.end) >= 12  # all tenants, again
    assert (await reports.tenant_report(db, tenant_id, month))["totals"] == first["totals"]
    assert sum(p["offered"] for p in first["trend"]) == 12


async def test_voicemail_messages_and_notes_counted_from_their_tables(db: Database) -> None:
    from crm.models import Note
    from voicemail.models import Voicemail

    tenant_id, _ = await tenant(db)
    async with db.session() as s:
        for n, status in enumerate(("stored", "stored", "empty")):
            s.add(
                Voicemail(
                    tenant_id=tenant_id,
                    mailbox="s",
                    status=status,
                    language="de",
                    recording_name=f"vm-{uuid.uuid4().hex}",
                    created_at=LATE,
                    handled_at=LATE if n == 0 else None,
                )
            )
        s.add(
            Note(
                tenant_id=tenant_id,
                recipient_name="Frau Weber",
                recipient_email="weber@example.org",
                subject="Rückruf",
                taken_at=LATE,
            )
        )
    day = parse_period("day", BERLIN, day="2026-03-02")
    rep = await reports.tenant_report(db, tenant_id, day)
    assert rep["voicemails"] == {"messages": 2, "empty": 1, "lost": 0, "handled": 1}
    assert rep["notes"] == 1
    bill = await billing.monthly_billing(
        db, tenant_id, parse_period("month", BERLIN, month="2026-03")
    )
    assert bill.totals["notes"] == 1 and bill.days[1]["notes"] == 1
