"""The CRM REST API through a real aiohttp server with real logins on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter import auth
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from crm import http as crm_http

PASSWORD = "crm-Test-Passw0rd"
FIXTURE = Path(__file__).parent.parent / "fixtures" / "crm" / "messy_contacts.csv"
Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    db: Database
    a: int
    b: int
    tokens: dict[str, str]


@pytest.fixture(scope="module")
async def world(pg_url: str) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    sfx = uuid.uuid4().hex[:8]
    async with db.session() as s:
        a = Tenant(slug=f"crm-a-{sfx}", name="Müller GmbH")
        b = Tenant(slug=f"crm-b-{sfx}", name="Schmidt AG")
        s.add_all([a, b])
        await s.flush()
        ids = a.id, b.id
    users = UserRepository(db)
    for role in ("admin", "receptionist"):
        await users.add(f"crm-{role}-{sfx}", PASSWORD, role)
    await users.add(f"crm-tenant-{sfx}", PASSWORD, "tenant", tenant_slugs=[f"crm-a-{sfx}"])
    app = _app(db)
    tokens = {}
    async with TestClient(TestServer(app)) as c:
        for role in ("admin", "receptionist", "tenant"):
            resp = await c.post(
                "/api/auth/login", json={"username": f"crm-{role}-{sfx}", "password": PASSWORD}
            )
            tokens[role] = (await resp.json())["token"]
    try:
        yield World(db, *ids, tokens)
    finally:
        await db.close()


def _app(db: Database) -> web.Application:
    app = web.Application()
    auth.setup(app, db)
    crm_http.setup(app)
    return app


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with TestClient(TestServer(_app(world.db))) as c:
        yield c


def h(world: World, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}"}


async def test_contact_crud_search_and_lookup(client: Client, world: World) -> None:
    base = f"/api/crm/tenants/{world.a}"
    body = {
        "display_name": "Anna API",
        "numbers": [{"type": "mobile", "number": "0171 5559001"}],
        "email": "anna@api.example",
        "vip": True,
    }
    resp = await client.post(f"{base}/contacts", json=body, headers=h(world, "receptionist"))
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["numbers"] == [
        {"type": "mobile", "number": "0171 5559001", "e164": "+491715559001"}
    ]
    cid = created["id"]
    # duplicate detection on create
    resp = await client.post(f"{base}/contacts", json={**body, "display_name": "Anna 2"},
                             headers=h(world, "receptionist"))  # fmt: skip
    assert (await resp.json())["duplicates"] == [cid]
    resp = await client.get(f"{base}/lookup", params={"caller": "+491715559001"},
                            headers=h(world, "tenant"))  # fmt: skip
    match = await resp.json()
    assert match["status"] == "contact" and match["vip"] and match["label"] == "Anna API"
    resp = await client.get(
        f"{base}/lookup", params={"caller": "anonymous"}, headers=h(world, "tenant")
    )
    assert (await resp.json())["label"] == "Anonymous"
    # An unknown parameter is named, not answered as an anonymous caller (issue #8).
    resp = await client.get(
        f"{base}/lookup", params={"number": "+491715559001"}, headers=h(world, "tenant")
    )
    assert resp.status == 400 and "number" in (await resp.json())["detail"]
    resp = await client.get(
        f"{base}/contacts", params={"q": "0171 5559001"}, headers=h(world, "tenant")
    )
    assert {c["display_name"] for c in (await resp.json())["items"]} == {"Anna API", "Anna 2"}
    resp = await client.put(f"{base}/contacts/{cid}", json={**body, "city": "Köln"},
                            headers=h(world, "admin"))  # fmt: skip
    assert (await resp.json())["city"] == "Köln"
    resp = await client.get(f"{base}/contacts/{cid}/timeline", headers=h(world, "tenant"))
    assert resp.status == 200 and (await resp.json())["items"] == []


async def test_validation_errors_name_the_field(client: Client, world: World) -> None:
    base = f"/api/crm/tenants/{world.a}"
    cases = [
        ({"display_name": "X", "numbers": [{"number": "call me"}]}, "numbers[0].number"),
        ({"display_name": "X", "email": "nope"}, "email"),
        ({}, "display_name"),
        ({"display_name": "X", "consent_basis": "because"}, "consent_basis"),
    ]
    for body, field in cases:
        resp = await client.post(f"{base}/contacts", json=body, headers=h(world, "admin"))
        assert resp.status == 400
        got = await resp.json()
        assert got["error"] == "invalid" and got["field"] == field and got["reason"]
    resp = await client.post(f"{base}/contacts", data=b"not json", headers=h(world, "admin"))
    assert resp.status == 400 and (await resp.json())["field"] == "body"


async def test_roles_and_tenant_isolation(client: Client, world: World) -> None:
    a, b = f"/api/crm/tenants/{world.a}", f"/api/crm/tenants/{world.b}"
    resp = await client.post(
        f"{a}/contacts", json={"display_name": "T"}, headers=h(world, "tenant")
    )
    assert resp.status == 403  # tenant users are read-only
    resp = await client.get(f"{b}/contacts", headers=h(world, "tenant"))
    assert resp.status == 404  # another tenant does not exist for them
    resp = await client.get(f"{a}/contacts")
    assert resp.status == 401
    # a contact of tenant B is invisible through tenant A's URL, even for staff
    resp = await client.post(
        f"{b}/contacts", json={"display_name": "Bee"}, headers=h(world, "admin")
    )
    bee = (await resp.json())["id"]
    resp = await client.get(f"{a}/contacts/{bee}", headers=h(world, "admin"))
    assert resp.status == 404
    resp = await client.post(f"{a}/webhooks", json={"url": "https://x.example/h"},
                             headers=h(world, "receptionist"))  # fmt: skip
    assert resp.status == 403  # webhook secrets are for managers
    resp = await client.post(f"{b}/contacts/{bee}/erase", headers=h(world, "receptionist"))
    assert resp.status == 403


async def test_import_dry_run_then_real_and_export(client: Client, world: World) -> None:
    base = f"/api/crm/tenants/{world.a}"
    data = FIXTURE.read_bytes()
    resp = await client.post(f"{base}/import", data=data, params={"format": "csv"},
                             headers=h(world, "receptionist"))  # fmt: skip
    report = await resp.json()
    assert report["dry_run"] and report["counts"]["error"] == 5
    assert {e["line"] for e in report["errors"]} == {7, 9, 10, 13, 14}
    resp = await client.get(
        f"{base}/export", params={"format": "vcard4"}, headers=h(world, "admin")
    )
    assert "Anna Schmidt" not in await resp.text()  # dry run stored nothing
    real = {"format": "csv", "dry_run": "false"}
    resp = await client.post(f"{base}/import", data=data, params=real,
                             headers=h(world, "receptionist"))  # fmt: skip
    assert (await resp.json())["counts"]["create"] >= 4
    resp = await client.get(
        f"{base}/export", params={"format": "vcard3"}, headers=h(world, "admin")
    )
    text = await resp.text()
    assert resp.content_type == "text/vcard" and "FN:Anna Schmidt" in text
    resp = await client.post(f"{base}/import", data=text.encode(), params={"format": "vcard"},
                             headers=h(world, "admin"))  # fmt: skip
    counts = (await resp.json())["counts"]
    assert counts["create"] == 0 and counts["error"] == 0  # everything is already there
    bad = await client.post(f"{base}/import", params={"mapping": json.dumps({"x": "y"})},
                            data=data, headers=h(world, "admin"))  # fmt: skip
    assert bad.status == 400 and (await bad.json())["field"] == "mapping"
    for mapping in ("{not json", '["Name"]', '{"display_name": 1}'):
        bad = await client.post(f"{base}/import", params={"mapping": mapping},
                                data=data, headers=h(world, "admin"))  # fmt: skip
        err = await bad.json()
        assert bad.status == 400 and err["field"] == "mapping" and "JSON object" in err["reason"]


async def test_webhook_config_and_note_kept_when_mail_is_not_configured(
    client: Client, world: World
) -> None:
    base = f"/api/crm/tenants/{world.a}"
    resp = await client.post(f"{base}/webhooks", json={"url": "https://crm.mueller.example/h",
                             "events": ["note.taken"]}, headers=h(world, "admin"))  # fmt: skip
    created = await resp.json()
    assert resp.status == 201 and len(created["secret"]) >= 32
    resp = await client.get(f"{base}/webhooks", headers=h(world, "admin"))
    assert "secret" not in (await resp.json())["items"][0]
    resp = await client.post(f"{base}/notes", headers=h(world, "receptionist"), json={
        "recipient_email": "chef@mueller.example", "subject": "Bitte zurückrufen",
        "caller_number": "0171 5559001", "callback_wanted": True,
    })  # fmt: skip
    note = await resp.json()
    assert resp.status == 201 and note["delivery_status"] == "failed"
    assert note["delivery_error"] == "no mail server configured"
    resp = await client.get(f"{base}/webhooks/deliveries", headers=h(world, "tenant"))
    items = (await resp.json())["items"]
    assert items[0]["event"] == "note.taken" and items[0]["status"] == "pending"
    # Removed again: a later test's app worker must not try to reach the invented host.
    resp = await client.delete(f"{base}/webhooks/{created['id']}", headers=h(world, "admin"))
    assert resp.status in (200, 204)


async def test_shared_contacts_are_staff_managed_and_visible_to_tenants(
    client: Client, world: World
) -> None:
    body = {"display_name": "Notar Dr. Weiß", "numbers": [{"number": "+49 30 5550600"}]}
    resp = await client.post("/api/crm/shared/contacts", json=body, headers=h(world, "tenant"))
    assert resp.status == 403
    resp = await client.post(
        "/api/crm/shared/contacts", json=body, headers=h(world, "receptionist")
    )
    assert resp.status == 201
    shared = await resp.json()
    assert shared["shared"] and shared["tenant_id"] is None
    for tenant in (world.a, world.b):  # every tenant's screen pop sees it
        url = f"/api/crm/tenants/{tenant}/lookup"
        resp = await client.get(url, params={"caller": "030 5550600"}, headers=h(world, "admin"))
        match = await resp.json()
        assert match["contact_id"] == shared["id"] and match["shared"]
    # a tenant URL cannot change a shared contact
    resp = await client.put(f"/api/crm/tenants/{world.a}/contacts/{shared['id']}", json=body,
                            headers=h(world, "admin"))  # fmt: skip
    assert resp.status == 403
    resp = await client.get("/api/crm/shared/contacts", params={"q": "Weiß"},
                            headers=h(world, "receptionist"))  # fmt: skip
    assert [c["id"] for c in (await resp.json())["items"]] == [shared["id"]]
