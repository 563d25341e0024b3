"""GDPR export of a shared contact through one tenant: that tenant's notes only (the report:
tenant A's export contained tenant B's note)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from crm import privacy
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.models import Note


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
