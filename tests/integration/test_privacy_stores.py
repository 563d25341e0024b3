"""GDPR export of a shared contact through one tenant: that tenant's notes only (the report:
tenant A's export contained tenant B's note)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callbacks.models import CallbackRequest
from callbacks.privacy import CallbackRequests
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from crm import privacy
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.models import Note
from crm.privacy import register_store


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


async def test_a_tenants_export_of_a_shared_contact_holds_only_its_notes(db: Database) -> None:
    sfx = uuid.uuid4().hex[:8]
    async with db.session() as s:
        a, b = Tenant(slug=f"pa-{sfx}", name="A"), Tenant(slug=f"pb-{sfx}", name="B")
        s.add_all([a, b])
        await s.flush()
        shared = await repo.create_contact(
            s,
            None,
            contact_from_mapping(
                {"display_name": f"Privacy {sfx}", "numbers": [{"number": "+49 30 5559911"}]}
            ),
        )
        for tenant, subject in ((a, "A's note"), (b, "B's note")):
            s.add(
                Note(
                    tenant_id=tenant.id,
                    contact_id=shared.id,
                    recipient_name="",
                    recipient_email="x@example.org",
                    subject=subject,
                )
            )
        ids = a.id, b.id, shared.id
    a_id, b_id, contact_id = ids
    async with db.session() as s:
        dump_a = await privacy.export_contact(s, a_id, contact_id)
        dump_b = await privacy.export_contact(s, b_id, contact_id)
    assert [n["subject"] for n in dump_a["notes"]] == ["A's note"]
    assert [n["subject"] for n in dump_b["notes"]] == ["B's note"]


async def test_the_callback_list_is_exported_and_erased_with_the_contact(db: Database) -> None:
    """On the old main the request kept the number (and its linkedid re-identified the
    pseudonymised calls) after the erasure."""
    register_store(CallbackRequests())
    sfx = uuid.uuid4().hex[:8]
    async with db.session() as s:
        t = Tenant(slug=f"pc-{sfx}", name="C")
        s.add(t)
        await s.flush()
        contact = await repo.create_contact(
            s,
            t.id,
            contact_from_mapping(
                {"display_name": f"Rückruf {sfx}", "numbers": [{"number": "+49 30 5557733"}]}
            ),
        )
        s.add(
            CallbackRequest(
                tenant_id=t.id,
                tenant=t.slug,
                number="+49305557733",
                queue="q",
                language="de",
                requested_at=datetime.now(UTC),
                status="pending",
                linkedid=f"cb-{sfx}",
            )
        )
        ids = t.id, contact.id
    tenant_id, contact_id = ids
    async with db.session() as s:
        dump = await privacy.export_contact(s, tenant_id, contact_id)
    assert [r["number"] for r in dump["callback_requests"]] == ["+49305557733"]
    async with db.session() as s:
        counts = await privacy.erase_contact(s, tenant_id, contact_id)
    assert counts["callback_requests_deleted"] == 1
    async with db.session() as s:
        left = await s.scalars(
            select(CallbackRequest.id).where(CallbackRequest.linkedid == f"cb-{sfx}")
        )
        assert list(left) == []
