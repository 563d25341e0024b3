"""The security report's 5xx list, each now a clear 4xx naming the field, through the whole
app (``make_app``: every middleware and feature route) on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.db.models import Call, Tenant
from callcenter.db.users import UserRepository
from callcenter.services import SERVICES
from composition.app import make_app

PASSWORD = "findings-Test-Passw0rd"
NOTE = {"subject": "Rückruf", "recipient_email": "chef@a.example"}
BIG = "99999999999999999999"  # beyond int64
Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    client: Client
    token: str
    a: int
    b: int
    call_b: int

    async def send(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture(scope="module")
async def world(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    tmp = tmp_path_factory.mktemp("findings")
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp / "data")},
            "database": {"url": pg_url},
            "tenants": {"directory": str(tmp / "no-tenants")},
        },
    )
    app = make_app(config, pbx=False)
    db = app[SERVICES].db
    sfx = uuid.uuid4().hex[:8]
    async with db.session() as s:
        a, b = Tenant(slug=f"fa-{sfx}", name="A GmbH"), Tenant(slug=f"fb-{sfx}", name="B AG")
        s.add_all([a, b])
        await s.flush()
        now = datetime.now(UTC)
        call = Call(
            linkedid=f"f-{sfx}",
            tenant_id=b.id,
            tenant=b.slug,
            entered_at=now,
            ended_at=now,
            outcome="answered",
        )
        s.add(call)
        await s.flush()
        ids = a.id, b.id, call.id
    await UserRepository(db).add(f"f-admin-{sfx}", PASSWORD, "admin")
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(
            "/api/auth/login", json={"username": f"f-admin-{sfx}", "password": PASSWORD}
        )
        token = (await resp.json())["token"]
        yield World(client, token, *ids)


async def test_ids_beyond_int64_are_404_naming_the_parameter(world: World) -> None:
    for path, field in (
        (f"/api/crm/tenants/{BIG}/contacts", "tenant"),
        (f"/api/crm/tenants/{world.a}/contacts/{BIG}", "contact_id"),
        (f"/api/crm/tenants/{world.a}/contacts/{BIG}/timeline", "contact_id"),
    ):
        status, body = await world.send("GET", path)
        assert status == 404 and body["field"] == field, (path, body)


async def test_int64_ids_in_bodies_and_queries_are_400(world: World) -> None:
    status, body = await world.send(
        "POST", f"/api/crm/tenants/{world.a}/contacts", json={"display_name": "Eins"}
    )
    assert status == 201, body
    contact = body["id"]
    status, body = await world.send(
        "POST",
        f"/api/crm/tenants/{world.a}/contacts/{contact}/merge",
        json={"other_id": int(BIG)},
    )
    assert status == 400 and body["field"] == "other_id", body
    status, body = await world.send(
        "POST", f"/api/crm/tenants/{world.a}/notes", json={**NOTE, "call_id": int(BIG)}
    )
    assert status == 400 and body["field"] == "call_id", body


async def test_nul_bytes_in_queries_and_logins_are_400(world: World) -> None:
    status, body = await world.send("GET", f"/api/crm/tenants/{world.a}/contacts?q=%00")
    assert status == 400 and body["field"] == "q", body
    status, body = await world.send("GET", "/api/ivr/tenants?lang=%00")
    assert status == 400 and body["field"] == "lang", body
    resp = await world.client.post(
        "/api/auth/login", json={"username": "admin\u0000", "password": "x"}
    )
    assert resp.status == 400 and (await resp.json())["field"] == "username"


async def test_deep_json_is_400(world: World) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for depth_body in (deep, "[" * 100 + "]" * 100):
        status, body = await world.send(
            "POST",
            f"/api/crm/tenants/{world.a}/contacts",
            data=depth_body,
            headers={"Content-Type": "application/json"},
        )
        assert status == 400 and "nested deeper" in body["reason"], body


async def test_notes_with_unknown_or_foreign_call_ids_are_refused(world: World) -> None:
    for call_id in (987_654_321, world.call_b):  # none, and tenant B's call through A
        status, body = await world.send(
            "POST", f"/api/crm/tenants/{world.a}/notes", json={**NOTE, "call_id": call_id}
        )
        assert status == 400 and body["field"] == "call_id", body
    status, body = await world.send(
        "POST", f"/api/crm/tenants/{world.b}/notes", json={**NOTE, "call_id": world.call_b}
    )
    assert status == 201, body  # its own call is fine


async def test_writes_to_a_tenant_that_does_not_exist_are_404(world: World) -> None:
    status, body = await world.send(
        "POST", "/api/crm/tenants/987654/contacts", json={"display_name": "Niemand"}
    )
    assert status == 404 and body["detail"] == "no tenant '987654'", body
    assert body["field"] == "tenant", body
    status, _ = await world.send("GET", "/api/crm/tenants/987654/contacts")
    assert status == 404  # reads agree


async def test_ivr_documents_too_large_or_not_utf8(world: World, tmp_path: Path) -> None:
    big = "# " + "x" * 300_000 + "\n"
    status, body = await world.send("PUT", "/api/ivr/tenants/acme/document", data=big.encode())
    assert status == 413 and body["error"] == "too_large", body
    latin = 'slug = "acme"\nname = "M\xfcller"\n'.encode("latin-1")
    status, body = await world.send("PUT", "/api/ivr/tenants/acme/document", data=latin)
    assert status == 400 and "UTF-8" in body["detail"], body
