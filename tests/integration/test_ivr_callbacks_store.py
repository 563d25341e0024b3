"""callback_requests on PostgreSQL: validated numbers, one request per call, tenant link."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from callbacks.models import CallbackRequest
from callbacks.store import CallbackRepository, NewCallback
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.phone.policy import DestinationRefused

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    try:
        yield database
    finally:
        await database.close()


def request(
    slug: str, linkedid: str | None, number: str = "+49 30 1234567", minutes: int = 0
) -> NewCallback:
    return NewCallback(slug, number, "q-x-de", "de", linkedid, T0 + timedelta(minutes=minutes))


async def test_one_request_per_call_linked_to_the_tenant(db: Database) -> None:
    slug = f"cb-{uuid.uuid4().hex[:8]}"
    async with db.session() as session:
        session.add(Tenant(slug=slug, name="CB GmbH"))
    repo = CallbackRepository(db)
    linkedid = f"sim-{uuid.uuid4().hex[:8]}"
    first = await repo.add(request(slug, linkedid))
    assert await repo.add(request(slug, linkedid, minutes=1)) == first  # retried: same row
    later = await repo.add(request(slug, f"{linkedid}-2", "+44 20 7946 0018", minutes=5))
    pending = await repo.pending(slug)
    assert [(p.id, p.number, p.status) for p in pending] == [
        (first, "+49301234567", "pending"),
        (later, "+442079460018", "pending"),
    ]
    assert pending[0].requested_at == T0
    async with db.session() as session:
        row = await session.get(CallbackRequest, first)
        tenant = (await session.execute(Tenant.__table__.select().where(Tenant.slug == slug))).one()
        assert row is not None and row.tenant_id == tenant.id


async def test_requests_without_a_call_each_get_their_own_row(db: Database) -> None:
    repo = CallbackRepository(db)
    slug = f"cb-{uuid.uuid4().hex[:8]}"
    ids = [
        await repo.add(request(slug, None, number)) for number in ("+49301234567", "+442079460018")
    ]
    assert len(set(ids)) == 2
    async with db.session() as session:
        rows = [await session.get(CallbackRequest, i) for i in ids]
    assert [(r.number, r.linkedid) for r in rows if r is not None] == [
        ("+49301234567", None),
        ("+442079460018", None),
    ]


async def test_refused_numbers_and_statuses_never_reach_the_table(db: Database) -> None:
    repo = CallbackRepository(db)
    linkedid = f"sim-{uuid.uuid4().hex[:8]}"
    with pytest.raises(DestinationRefused, match="premium-rate"):
        await repo.add(request("nobody", linkedid, "+49 900 1234567"))
    assert await repo.by_linkedid(linkedid) is None
    with pytest.raises(IntegrityError, match="ck_callback_requests_status"):
        async with db.session() as session:  # the CHECK constraint guards direct writes too
            session.add(
                CallbackRequest(
                    tenant="x",
                    number="+49301234567",
                    queue="q",
                    language="de",
                    requested_at=T0,
                    status="lost",
                    linkedid=None,
                )
            )
