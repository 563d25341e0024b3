"""The routing REST API on a real aiohttp server with real logins on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter import auth, tenant_ref
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from ivr import http
from ivr.placeholders import generate_for_file
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry, reload_from_files
from tests.conftest import fresh_database

PBX_ROOT = Path("/var/cache/callcenter/pbx-root")
REPO_TENANTS = Path(__file__).resolve().parents[2] / "config" / "tenants"
PASSWORD = "ivr-Test-Passw0rd"
FRIDAY_EVENING = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
Client = TestClient[web.Request, web.Application]
pytestmark = pytest.mark.postgres


@dataclass
class World:
    db: Database
    registry: TenantRegistry
    sources: PromptSources
    directory: Path
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def ivr_http_url() -> Iterator[str]:
    with fresh_database("cc_ivrhttp") as url:
        migrate.upgrade(url)
        yield url


def _app(world: World) -> web.Application:
    app = web.Application()
    auth.setup(app, world.db)
    http.setup(app, world.registry, world.sources, world.directory, clock=lambda: FRIDAY_EVENING)
    return app


@pytest.fixture(scope="module")
async def world(
    ivr_http_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("ivrhttp")
    directory = tmp / "tenants"
    shutil.copytree(REPO_TENANTS, directory)
    for path in directory.glob("*.toml"):
        generate_for_file(path, tmp / "rec")
    sources = PromptSources.for_pbx_root(PBX_ROOT, tmp / "rec")
    db = Database(ivr_http_url)
    registry = TenantRegistry()
    await reload_from_files(registry, db, directory, sources)
    users = UserRepository(db)
    for role in ("admin", "receptionist"):
        await users.add(f"ivr-{role}", PASSWORD, role)
    await users.add("ivr-tenant", PASSWORD, "tenant", tenant_slugs=["harbour-legal"])
    world = World(db, registry, sources, directory, {})
    async with TestClient(TestServer(_app(world))) as c:
        for role in ("admin", "receptionist", "tenant"):
            resp = await c.post(
                "/api/auth/login", json={"username": f"ivr-{role}", "password": PASSWORD}
            )
            world.tokens[role] = (await resp.json())["token"]
    try:
        yield world
    finally:
        await db.close()


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with TestClient(TestServer(_app(world))) as c:
        yield c


def h(world: World, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}"}


async def test_list_and_detail_for_receptionists(client: Client, world: World) -> None:
    resp = await client.get("/api/ivr/tenants?lang=de", headers=h(world, "receptionist"))
    assert resp.status == 200
    tenants = {t["slug"]: t for t in (await resp.json())["tenants"]}
    assert set(tenants) == {"harbour-legal", "mueller"}
    assert tenants["mueller"]["status"] == "closed"
    assert tenants["mueller"]["next_opening_text"] == "Montag, 30. November 2026, 08:00"
    resp = await client.get("/api/ivr/tenants/mueller?lang=en", headers=h(world, "receptionist"))
    body = await resp.json()
    assert body["greeting"].startswith("Müller GmbH, guten Tag")
    assert body["next_opening_text"] == "Monday, 30 November 2026, 08:00"
    assert [s["id"] for s in body["staff"]] == ["hmueller", "buchhaltung"]


async def test_tenant_user_sees_only_its_tenant(client: Client, world: World) -> None:
    resp = await client.get("/api/ivr/tenants", headers=h(world, "tenant"))
    assert [t["slug"] for t in (await resp.json())["tenants"]] == ["harbour-legal"]
    resp = await client.get("/api/ivr/tenants/mueller", headers=h(world, "tenant"))
    assert resp.status == 404
    resp = await client.get("/api/ivr/tenants")
    assert resp.status == 401


async def test_document_roles_and_faults(client: Client, world: World) -> None:
    resp = await client.get("/api/ivr/tenants/mueller/document", headers=h(world, "receptionist"))
    assert resp.status == 403
    resp = await client.get("/api/ivr/tenants/mueller/document", headers=h(world, "admin"))
    assert resp.status == 200
    document = await resp.text()
    broken = document.replace('"9" = "opening-hours"', '"9" = "nowhere"')
    resp = await client.put(
        "/api/ivr/tenants/mueller/document", data=broken, headers=h(world, "admin")
    )
    assert resp.status == 422
    assert (await resp.json())["detail"] == [
        {"path": "flows.main.options.9", "reason": "dangling target 'nowhere'"}
    ]
    resp = await client.put(
        "/api/ivr/tenants/mueller/document", data=document, headers=h(world, "receptionist")
    )
    assert resp.status == 403
    stolen = document.replace('number = "+49 89 1234561"', 'number = "+49 40 5550100"')
    resp = await client.put(
        "/api/ivr/tenants/mueller/document", data=stolen, headers=h(world, "admin")
    )
    assert (await resp.json())["detail"] == [
        {
            "path": "dids.1.number",
            "reason": "+49405550100 already belongs to tenant 'harbour-legal'",
        }
    ]


async def test_document_update_applies_at_once(client: Client, world: World) -> None:
    resp = await client.get("/api/ivr/tenants/mueller/document", headers=h(world, "admin"))
    document = await resp.text()
    changed = document.replace("emergency_closed = false", "emergency_closed = true")
    resp = await client.put(
        "/api/ivr/tenants/mueller/document", data=changed, headers=h(world, "admin")
    )
    assert resp.status == 200, await resp.text()
    resp = await client.get("/api/ivr/tenants/mueller", headers=h(world, "receptionist"))
    assert (await resp.json())["status"] == "emergency"
    resp = await client.post("/api/ivr/reload", headers=h(world, "admin"))  # files win again
    assert resp.status == 200 and (await resp.json())["changed"] == ["mueller"]
    resp = await client.get("/api/ivr/tenants/mueller", headers=h(world, "receptionist"))
    assert (await resp.json())["status"] == "closed"


async def test_a_tenant_is_named_by_slug_or_by_its_numeric_id(client: Client, world: World) -> None:
    """One way to name tenants across the API (issue #9): the slug, and the numeric id the
    CRM routes used to take; a tenant user asking for another tenant, by either name, gets
    the same 404 as for a tenant that does not exist."""
    found = await tenant_ref.find_tenant(world.db, "mueller")
    assert found is not None
    by_slug = await client.get("/api/ivr/tenants/mueller?lang=en", headers=h(world, "admin"))
    by_id = await client.get(f"/api/ivr/tenants/{found[0]}?lang=en", headers=h(world, "admin"))
    assert by_slug.status == by_id.status == 200
    assert (await by_slug.json()) == (await by_id.json())
    unknown = await client.get("/api/ivr/tenants/nobody-here", headers=h(world, "tenant"))
    hidden = await client.get(f"/api/ivr/tenants/{found[0]}", headers=h(world, "tenant"))
    assert unknown.status == hidden.status == 404
    assert (await unknown.json())["field"] == (await hidden.json())["field"] == "tenant"
    resp = await client.get(f"/api/ivr/tenants/{found[0]}")
    assert resp.status == 401  # the login comes first: nothing is said about tenants


async def test_a_document_for_an_all_digit_slug_is_refused(client: Client, world: World) -> None:
    resp = await client.get("/api/ivr/tenants/mueller/document", headers=h(world, "admin"))
    document = (await resp.text()).replace('slug = "mueller"', 'slug = "4711"')
    resp = await client.put(
        "/api/ivr/tenants/4711/document", data=document, headers=h(world, "admin")
    )
    assert resp.status == 422, await resp.text()
    faults = (await resp.json())["detail"]
    assert any(f["path"] == "slug" and "must contain a letter" in f["reason"] for f in faults)
