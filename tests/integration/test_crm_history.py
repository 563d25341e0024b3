"""Timeline, re-linking calls, and GDPR export/erase against real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.db import migrate
from callcenter.db.models import Call, CallEvent, Tenant
from callcenter.db.session import Database
from crm import privacy, timeline, webhooks
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.lookup import Lookup
from crm.models import Erasure, Note, WebhookDelivery

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


async def _setup(db: Database) -> dict[str, int]:
    ids: dict[str, int] = {}
    async with db.session() as s:
        a = Tenant(slug=f"h-{uuid.uuid4().hex[:8]}", name="A")
        b = Tenant(slug=f"h-{uuid.uuid4().hex[:8]}", name="B")
        s.add_all([a, b])
        await s.flush()
        ids["a"], ids["b"] = a.id, b.id
        contact = await repo.create_contact(
            s, a.id,
            contact_from_mapping({"display_name": "Erika", "numbers": [
                {"type": "mobile", "number": "0171 5558001"},
                {"type": "home", "number": "030 5558002"},
            ]}),
        )  # fmt: skip
        ids["contact"] = contact.id
        calls = [
            ("c1", a.id, "+491715558001", 0),
            ("c2", a.id, "+49305558002", 1),
            ("c3", a.id, "+49305558999", 2),
            ("c4", b.id, "+491715558001", 3),
        ]
        for key, tenant, caller, n in calls:
            linkedid = f"{uuid.uuid4().hex[:12]}.{n}"
            call = Call(
                linkedid=linkedid, tenant_id=tenant, caller=caller, caller_raw=caller[3:],
                caller_name="Erika M", entered_at=T0 + timedelta(hours=n),
                ended_at=T0 + timedelta(hours=n, minutes=3), outcome="answered",
                extra={"crm_contact_id": contact.id, "contact_id": str(contact.id), "ivr": "1"},
            )  # fmt: skip
            s.add(call)
            await s.flush()
            ids[key] = call.id
            s.add(CallEvent(linkedid=linkedid, at=call.entered_at, type="ringing",
                            data={"caller": caller, "note": f"from {caller}"}))  # fmt: skip
        s.add(
            Note(tenant_id=a.id, contact_id=contact.id, recipient_name="Chef",
                 recipient_email="chef@a.example", subject="Rückruf", caller_e164="+491715558001",
                 taken_at=T0 + timedelta(hours=1, minutes=30))
        )  # fmt: skip
        for tenant in (a.id, b.id):  # each tenant was told about a call from Erika's mobile
            await webhooks.create_endpoint(s, tenant, "http://127.0.0.1:9/h")
            await webhooks.enqueue(s, tenant, "call.ringing", {"caller": "+491715558001"})
    return ids


async def _deliveries(db: Database, tenant: int) -> int:
    async with db.session() as s:
        rows = await s.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.tenant_id == tenant)
        )
        return len(list(rows))


async def test_timeline_and_relinking(db: Database) -> None:
    ids = await _setup(db)
    a, contact = ids["a"], ids["contact"]
    async with db.session() as s:
        entries = await timeline.timeline(s, a, contact)
    assert [(e.kind, e.id) for e in entries if e.kind == "call"] == [
        ("call", ids["c2"]),
        ("call", ids["c1"]),
    ]
    assert [e.kind for e in entries] == ["note", "call", "call"]  # newest first
    async with db.session() as s:
        other = await timeline.link_call_to_new_contact(
            s, a, ids["c1"], contact_from_mapping({"display_name": "Erikas Kollege"})
        )
        await timeline.link_call(s, a, ids["c3"], contact, user_id=None)
    async with db.session() as s:
        mine = [e.id for e in await timeline.timeline(s, a, contact) if e.kind == "call"]
        theirs = [e.id for e in await timeline.timeline(s, a, other) if e.kind == "call"]
    assert mine == [ids["c3"], ids["c2"]] and theirs == [ids["c1"]]
    async with db.session() as s:  # another tenant's call cannot be linked
        with pytest.raises(repo.NotFound):
            await timeline.link_call(s, a, ids["c4"], contact)
        with pytest.raises(repo.NotFound):  # nor a contact of tenant A from tenant B
            await timeline.timeline(s, ids["b"], contact)


async def test_privacy_export_and_erase(db: Database) -> None:
    ids = await _setup(db)
    a, contact = ids["a"], ids["contact"]
    async with db.session() as s:
        dump = await privacy.export_contact(s, a, contact)
    json.dumps(dump)  # JSON-ready
    assert dump["contact"]["display_name"] == "Erika"
    assert {c["id"] for c in dump["calls"]} == {ids["c1"], ids["c2"]}
    assert [n["subject"] for n in dump["notes"]] == ["Rückruf"]
    async with db.session() as s:
        before = await privacy.call_count(s, a)
        counts = await privacy.erase_contact(s, a, contact, erased_by=None)
    assert counts["calls_pseudonymised"] == 2 and counts["notes_deleted"] == 1
    assert counts["numbers_deleted"] == 2 and counts["call_events_scrubbed"] == 2
    assert counts["webhook_deliveries_deleted"] == 1
    assert await _deliveries(db, a) == 0 and await _deliveries(db, ids["b"]) == 1
    async with db.session() as s:
        assert await privacy.call_count(s, a) == before  # statistics keep their counts
        calls = {c.id: c for c in await s.scalars(select(Call).where(Call.tenant_id == a))}
        c1, c2 = calls[ids["c1"]], calls[ids["c2"]]
        assert c1.caller == c2.caller and (c1.caller or "").startswith("x-erased-")
        assert c1.caller_raw is None and c1.caller_name is None and c1.extra == {"ivr": "1"}
        assert calls[ids["c3"]].caller == "+49305558999"  # someone else's call is untouched
        events = list(await s.scalars(select(CallEvent).where(CallEvent.linkedid == c1.linkedid)))
        assert "5558001" not in json.dumps([e.data for e in events])
        other_tenant = await s.get(Call, ids["c4"])
        assert other_tenant is not None and other_tenant.caller == "+491715558001"
        erasure = await s.scalar(select(Erasure).where(Erasure.contact_id == contact))
        assert erasure is not None and erasure.counts == counts
        with pytest.raises(repo.NotFound):
            await repo.get_contact(s, contact, a)
    assert (await Lookup(db.engine).lookup(a, "+491715558001")).status == "unknown"


async def test_erasing_a_shared_contact_covers_every_tenant(db: Database) -> None:
    ids = await _setup(db)
    async with db.session() as s:
        shared = await repo.create_contact(
            s, None, contact_from_mapping({"display_name": "Geteilt", "numbers": [
                {"number": "0171 5558001"}]}),  # the number that called tenants A and B
        )  # fmt: skip
        counts = await privacy.erase_contact(s, None, shared.id)
    assert counts["calls_pseudonymised"] >= 2
    assert await _deliveries(db, ids["a"]) == 0 and await _deliveries(db, ids["b"]) == 0
    async with db.session() as s:
        for key in ("c1", "c4"):  # tenant A's and tenant B's call from that number
            call = await s.get(Call, ids[key])
            assert call is not None and (call.caller or "").startswith("x-erased-")
        assert (await s.get(Call, ids["c2"])).caller == "+49305558002"  # type: ignore[union-attr]
