"""One way to name a tenant across the API (issue #9): the slug, everywhere; the numeric
id the CRM, statistics and voicemail routes took before is still accepted. Through the
whole app (``make_app``) on PostgreSQL. On the old main ``/api/crm/tenants/<slug>/…``
answered 404 (the route took digits only) while the IVR took slugs only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.db.models import Queue, Tenant
from callcenter.db.users import UserRepository
from callcenter.services import SERVICES
from composition.app import make_app

PASSWORD = "names-Test-Passw0rd"
Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    client: Client
    tokens: dict[str, str]
    a: tuple[int, str]
    b: tuple[int, str]

    async def send(self, method: str, path: str, who: str = "admin", **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        self.client.session.cookie_jar.clear()  # the logins' session cookies: bearer only
        resp = await self.client.request(method, path, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


@pytest.fixture(scope="module")
async def world(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    tmp: Path = tmp_path_factory.mktemp("names")
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
        a, b = Tenant(slug=f"na-{sfx}", name="A GmbH"), Tenant(slug=f"nb-{sfx}", name="B AG")
        s.add_all([a, b])
        await s.flush()
        s.add(Queue(name=f"na-{sfx}-main", tenant_id=a.id))
        ids = (a.id, a.slug), (b.id, b.slug)
    users = UserRepository(db)
    await users.add(f"n-admin-{sfx}", PASSWORD, "admin")
    await users.add(f"n-tenant-{sfx}", PASSWORD, "tenant", tenant_slugs=[ids[0][1]])
    async with TestClient(TestServer(app)) as client:
        tokens = {}
        for who in ("admin", "tenant"):
            resp = await client.post(
                "/api/auth/login", json={"username": f"n-{who}-{sfx}", "password": PASSWORD}
            )
            tokens[who] = (await resp.json())["token"]
        yield World(client, tokens, *ids)


async def test_crm_stats_and_voicemail_take_the_slug_and_the_old_id(world: World) -> None:
    (a_id, a_slug), _ = world.a, world.b
    status, created = await world.send(
        "POST", f"/api/crm/tenants/{a_slug}/contacts", json={"display_name": "Per Slug"}
    )
    assert status == 201, created
    assert created["tenant_id"] == a_id
    for path in (
        "/api/crm/tenants/{}/contacts",
        f"/api/crm/tenants/{{}}/contacts/{created['id']}",
        "/api/stats/tenants/{}/settings",
        "/api/voicemail/tenants/{}/messages",
    ):
        by_slug = await world.send("GET", path.format(a_slug))
        by_id = await world.send("GET", path.format(a_id))
        assert by_slug[0] == 200 and by_slug == by_id, (path, by_slug, by_id)


async def test_unknown_and_hidden_tenants_get_the_same_404(world: World) -> None:
    (_, a_slug), (b_id, b_slug) = world.a, world.b
    answers = [
        await world.send("GET", f"/api/crm/tenants/{ref}/contacts", who="tenant")
        for ref in (b_slug, str(b_id), "no-such-tenant", "987654")
    ]
    for status, body in answers:
        assert status == 404 and body["error"] == "not_found" and body["field"] == "tenant"
    assert {b["detail"].split("'")[0] for _, b in answers} == {"no tenant "}
    status, _ = await world.send("GET", f"/api/crm/tenants/{a_slug}/contacts", who="tenant")
    assert status == 200
    status, body = await world.send("GET", f"/api/crm/tenants/{b_slug}/contacts", who="")
    assert status == 401, body  # anonymous: the login comes first, nothing about tenants
    status, body = await world.send("GET", "/api/crm/tenants/Not_A_Slug/contacts")
    assert status == 404  # not a slug at all: no route


async def test_callbacks_take_the_slug_or_the_id(world: World) -> None:
    a_id, a_slug = world.a
    for ref, number in ((a_slug, "+49 30 5550101"), (str(a_id), "+49 30 5550102")):
        status, body = await world.send(
            "POST",
            "/api/callbacks",
            json={"tenant": ref, "queue": f"{a_slug}-main", "number": number},
        )
        assert status == 201, body
    status, body = await world.send("GET", f"/api/callbacks?tenant={a_id}")
    assert status == 200 and len(body["callbacks"]) == 2, body
    status, body = await world.send(
        "POST", "/api/callbacks", json={"tenant": "987654", "queue": "q", "number": "+4930555"}
    )
    assert status == 404, body


async def test_the_contract_names_every_tenant_by_one_path_parameter(world: World) -> None:
    status, doc = await world.send("GET", "/api/openapi.json", who="")
    assert status == 200
    tenant_paths = [p for p in doc["paths"] if "/tenants/" in p]
    assert len(tenant_paths) > 20
    for path, operations in doc["paths"].items():
        for op in operations.values():
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert "tenant_id" not in names and "slug" not in names, path
            if "/tenants/{" in path:
                assert "{tenant}" in path, path
                (param,) = [p for p in op["parameters"] if p["name"] == "tenant"]
                assert param["schema"]["type"] == "string", path
