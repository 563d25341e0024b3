"""The voicemail inbox API and retention on PostgreSQL, through a real aiohttp server with
real logins: list, get, range requests, handled, assign, call back, contact link, bad input,
tenant isolation, retention with its audit entry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callbacks.models import CallbackRequest
from callcenter import auth
from callcenter.audit import AuditEntry
from callcenter.db import migrate
from callcenter.db.models import Queue, Tenant, utcnow
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from crm import privacy
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.privacy import register_store
from jobs.worker import Worker
from tests.integration.voicemail_support import audit_into_log
from voicemail import audit as vm_audit
from voicemail import http as vm_http
from voicemail.deps import VoicemailDeps
from voicemail.models import Mailbox, Voicemail, VoicemailAudio
from voicemail.privacy import VoicemailStore
from voicemail.tasks import retention_task

PASSWORD = "vm-Inbox-Passw0rd"
AUDIO = b"RIFF" + bytes(range(256)) * 4
Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    db: Database
    a: int
    b: int
    slug_a: str
    contact: int
    receptionist_id: int
    tokens: dict[str, str]


def _app(db: Database) -> web.Application:
    app = web.Application()
    auth.setup(app, db)
    vm_http.setup(app, VoicemailDeps(db=db))
    return app


@pytest.fixture(scope="module")
async def world(pg_url: str) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    audit_into_log(db)
    sfx = uuid.uuid4().hex[:6]
    async with db.session() as s:
        a = Tenant(slug=f"vmi-a-{sfx}", name="Müller GmbH")
        b = Tenant(slug=f"vmi-b-{sfx}", name="Schmidt AG")
        s.add_all([a, b])
        await s.flush()
        s.add(Queue(name=f"q-vmi-{sfx}", tenant_id=a.id))
        contact = await repo.create_contact(s, a.id, contact_from_mapping({"display_name": "Eva"}))
        ids = a.id, b.id, contact.id
    users = UserRepository(db)
    rec = await users.add(f"vmi-rec-{sfx}", PASSWORD, "receptionist")
    await users.add(f"vmi-admin-{sfx}", PASSWORD + "-Admin!9", "admin")
    await users.add(f"vmi-tenant-{sfx}", PASSWORD, "tenant", tenant_slugs=[f"vmi-a-{sfx}"])
    tokens = {}
    async with TestClient(TestServer(_app(db))) as c:
        for role, pw in (("rec", PASSWORD), ("admin", PASSWORD + "-Admin!9"), ("tenant", PASSWORD)):
            resp = await c.post(
                "/api/auth/login", json={"username": f"vmi-{role}-{sfx}", "password": pw}
            )
            tokens[role] = (await resp.json())["token"]
    try:
        yield World(db, ids[0], ids[1], f"vmi-a-{sfx}", ids[2], rec.id, tokens)
    finally:
        vm_audit.redirect(None)
        await db.close()


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with TestClient(TestServer(_app(world.db))) as c:
        yield c


def h(world: World, who: str = "rec") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


async def message(
    world: World, tenant_id: int, *, age_days: float = 0, caller: str | None = "+4930901820"
) -> int:
    async with world.db.session() as s:
        vm = Voicemail(
            tenant_id=tenant_id, mailbox="box", status="stored", language="de",
            caller_e164=caller, recording_name=f"vm-i-{uuid.uuid4().hex}", format="wav",
            created_at=utcnow() - timedelta(days=age_days), transcript_status="done",
            transcript_text="Bitte zurückrufen",
            transcript_words=[{"word": "Bitte", "start": 0.1, "end": 0.4, "conf": 0.9}],
        )  # fmt: skip
        s.add(vm)
        await s.flush()
        s.add(VoicemailAudio(voicemail_id=vm.id, data=AUDIO))
        return vm.id


def url(world: World, vm_id: int, tail: str = "", tenant: int | None = None) -> str:
    return f"/api/voicemail/tenants/{tenant or world.a}/messages/{vm_id}{tail}"


async def test_list_get_and_ranges(world: World, client: Client) -> None:
    vm_id = await message(world, world.a)
    listed = await (
        await client.get(f"/api/voicemail/tenants/{world.a}/messages", headers=h(world))
    ).json()
    assert vm_id in [m["id"] for m in listed["messages"]]
    one = await (await client.get(url(world, vm_id), headers=h(world))).json()
    assert one["transcript"] == "Bitte zurückrufen" and one["words"][0]["word"] == "Bitte"
    full = await client.get(url(world, vm_id, "/audio"), headers=h(world))
    assert full.status == 200 and await full.read() == AUDIO
    assert full.headers["Accept-Ranges"] == "bytes"
    tail = await client.get(url(world, vm_id, "/audio"), headers={**h(world), "Range": "bytes=-4"})
    assert tail.status == 206 and await tail.read() == AUDIO[-4:]
    assert tail.headers["Content-Range"] == f"bytes {len(AUDIO) - 4}-{len(AUDIO) - 1}/{len(AUDIO)}"
    bad = await client.get(
        url(world, vm_id, "/audio"), headers={**h(world), "Range": "bytes=9999-"}
    )
    assert bad.status == 416 and bad.headers["Content-Range"] == f"bytes */{len(AUDIO)}"


async def test_other_tenants_message_is_not_found_and_tenant_users_only_read(
    world: World, client: Client
) -> None:
    vm_id = await message(world, world.b)
    assert (await client.get(url(world, vm_id), headers=h(world))).status == 404
    own = await message(world, world.a)
    assert (await client.get(url(world, own), headers=h(world, "tenant"))).status == 200
    resp = await client.post(url(world, own, "/handled"), json={}, headers=h(world, "tenant"))
    assert resp.status == 403
    other = f"/api/voicemail/tenants/{world.b}/messages"
    assert (await client.get(other, headers=h(world, "tenant"))).status == 404


async def test_handled_assign_contact_and_bad_input(world: World, client: Client) -> None:
    vm_id = await message(world, world.a)
    done = await (
        await client.post(url(world, vm_id, "/handled"), json={"handled": True}, headers=h(world))
    ).json()
    assert done["handled_at"] and done["handled_by"] == world.receptionist_id
    listed = await (
        await client.get(f"/api/voicemail/tenants/{world.a}/messages", headers=h(world))
    ).json()
    assert vm_id not in [m["id"] for m in listed["messages"]]  # open ones only by default
    bad = await client.post(
        url(world, vm_id, "/handled"), json={"handled": "yes"}, headers=h(world)
    )
    assert bad.status == 400 and (await bad.json())["field"] == "handled"
    assigned = await client.post(
        url(world, vm_id, "/assign"), json={"user_id": world.receptionist_id}, headers=h(world)
    )
    assert (await assigned.json())["assigned_to"] == world.receptionist_id
    nobody = await client.post(
        url(world, vm_id, "/assign"), json={"user_id": 999999}, headers=h(world)
    )
    assert nobody.status == 400 and (await nobody.json())["field"] == "user_id"
    linked = await client.post(
        url(world, vm_id, "/contact"), json={"contact_id": world.contact}, headers=h(world)
    )
    assert (await linked.json())["contact_id"] == world.contact
    missing = await client.post(
        url(world, vm_id, "/contact"), json={"contact_id": 987654}, headers=h(world)
    )
    assert missing.status == 400
    garbage = await client.post(url(world, vm_id, "/assign"), data=b"{nope", headers=h(world))
    assert garbage.status == 400 and (await garbage.json())["field"] == "body"


async def test_call_back_creates_one_callback_request(world: World, client: Client) -> None:
    vm_id = await message(world, world.a)
    first = await (
        await client.post(url(world, vm_id, "/callback"), json={}, headers=h(world))
    ).json()
    again = await (
        await client.post(url(world, vm_id, "/callback"), json={}, headers=h(world))
    ).json()
    assert first["callback"]["id"] == again["callback"]["id"]
    async with world.db.session() as s:
        row = await s.get(CallbackRequest, first["callback"]["id"])
    assert row is not None and row.number == "+4930901820" and row.tenant == world.slug_a
    anonymous = await message(world, world.a, caller=None)
    refused = await client.post(url(world, anonymous, "/callback"), json={}, headers=h(world))
    assert refused.status == 400 and (await refused.json())["field"] == "caller"
    wrong = await client.post(
        url(world, vm_id, "/callback"), json={"queue": "q-elsewhere"}, headers=h(world)
    )
    assert wrong.status == 400 and (await wrong.json())["field"] == "queue"


async def test_mailbox_settings_need_a_manager_and_valid_values(
    world: World, client: Client
) -> None:
    box = f"/api/voicemail/tenants/{world.a}/mailboxes/main"
    body = {
        "recipients": ["office@mueller.example"],
        "greetings": {"de": "sound:vm-intro"},
        "review": True,
    }
    assert (await client.put(box, json=body, headers=h(world))).status == 403
    saved = await (await client.put(box, json=body, headers=h(world, "admin"))).json()
    assert saved["recipients"] == ["office@mueller.example"] and saved["review"] is True
    bad = await client.put(box, json={"recipients": ["x\r\nBcc: y@z"]}, headers=h(world, "admin"))
    assert bad.status == 400 and (await bad.json())["field"] == "recipients"
    bad = await client.put(box, json={"greetings": {"de": "sound:x,y"}}, headers=h(world, "admin"))
    assert bad.status == 400 and (await bad.json())["field"] == "greetings"
    bad = await client.put(box, json={"max_seconds": 0}, headers=h(world, "admin"))
    assert bad.status == 400 and (await bad.json())["field"] == "max_seconds"


async def test_retention_deletes_expired_messages_and_audits_it(world: World) -> None:
    old = await message(world, world.a, age_days=40)
    fresh = await message(world, world.a, age_days=1)
    other_tenant_old = await message(world, world.b, age_days=400)  # tenant b keeps forever
    async with world.db.session() as s:
        box = await s.get(Mailbox, (world.a, "*"))
        if box is None:
            s.add(
                Mailbox(
                    tenant_id=world.a, mailbox="*", recipients=[], greetings={},
                    max_seconds=60, silence_seconds=5, review=False, retention_days=30,
                )
            )  # fmt: skip
    deps = VoicemailDeps(db=world.db)
    task = retention_task(deps)
    async with world.db.session() as s:
        await task.enqueue(s, {})
    await Worker(world.db, [task], poll_interval=0.05).drain(timeout=30)
    async with world.db.session() as s:
        assert await s.get(Voicemail, old) is None
        assert await s.get(VoicemailAudio, old) is None
        assert await s.get(Voicemail, fresh) is not None
        assert await s.get(Voicemail, other_tenant_old) is not None
        entry = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "voicemail.retention", AuditEntry.tenant_id == world.a
            )
        )
    assert entry is not None and old in entry.detail["ids"] and entry.username == "(system)"


async def test_privacy_export_and_erasure_cover_voicemail(world: World) -> None:
    register_store(VoicemailStore())
    number = "+4930901829"
    async with world.db.session() as s:
        person = await repo.create_contact(
            s,
            world.a,
            contact_from_mapping({"display_name": "Paula", "numbers": [{"number": number}]}),
        )
    from_number = await message(world, world.a, caller=number)
    linked = await message(world, world.a, caller=None)
    elsewhere = await message(world, world.b, caller=number)  # another tenant's caller data
    async with world.db.session() as s:
        row = await s.get(Voicemail, linked)
        assert row is not None
        row.contact_id = person.id
    async with world.db.session() as s:
        exported = await privacy.export_contact(s, world.a, person.id)
    assert sorted(v["id"] for v in exported["voicemails"]) == sorted([from_number, linked])
    first = exported["voicemails"][0]
    assert first["transcript"] == "Bitte zurückrufen" and first["words"]
    assert first["audio_url"].endswith(f"/messages/{first['id']}/audio")
    async with world.db.session() as s:
        counts = await privacy.erase_contact(s, world.a, person.id)
    assert counts["voicemails_deleted"] == 2
    async with world.db.session() as s:
        assert await s.get(Voicemail, from_number) is None
        assert await s.get(VoicemailAudio, linked) is None
        assert await s.get(Voicemail, elsewhere) is not None
        erased = await s.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "voicemail.erase", AuditEntry.target == f"contact:{person.id}"
            )
        )
    assert erased is not None and erased.detail == {"deleted": 2}
