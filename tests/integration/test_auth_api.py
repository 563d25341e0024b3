"""Login, tokens, roles and tenant isolation through a real aiohttp server on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from limits import RateLimitItemPerMinute
from sqlalchemy import select

from callcenter import auth
from callcenter.db import migrate
from callcenter.db.models import Tenant, User
from callcenter.db.session import DATABASE, Database
from callcenter.db.users import UserRepository
from callcenter.login_guard import ThrottleLimits
from callcenter.passwords import Params, hash_password, needs_rehash, verify_password

PASSWORD = "s3cret-Passw0rd"
Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    db: Database
    suffix: str
    tenant_a: int
    tenant_b: int

    def name(self, role: str) -> str:
        return f"{role}-{self.suffix}"


@pytest.fixture(scope="module")
async def world(pg_url: str) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    suffix = uuid.uuid4().hex[:8]
    async with db.session() as session:
        a = Tenant(slug=f"mueller-{suffix}", name="Müller GmbH")
        b = Tenant(slug=f"schmidt-{suffix}", name="Schmidt & Partner")
        session.add_all([a, b])
        await session.flush()
        ids = a.id, b.id
    users = UserRepository(db)
    for role in ("admin", "supervisor", "receptionist"):
        await users.add(f"{role}-{suffix}", PASSWORD, role)
    await users.add(f"tenant-{suffix}", PASSWORD, "tenant", tenant_slugs=[f"mueller-{suffix}"])
    try:
        yield World(db, suffix, *ids)
    finally:
        await db.close()


async def tenant_detail(request: web.Request) -> web.Response:
    tenant_id = int(request.match_info["tenant_id"])
    auth.require_tenant(request, tenant_id)
    async with request.app[DATABASE].session() as session:
        tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise auth.json_error(web.HTTPNotFound, "not_found", f"no tenant {tenant_id}")
    return web.json_response({"id": tenant.id, "name": tenant.name})


async def tenant_list(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    async with request.app[DATABASE].session() as session:
        ids = await session.scalars(
            select(Tenant.id).where(auth.principal_tenant_filter(principal))
        )
        return web.json_response(sorted(ids))


async def live_control(request: web.Request) -> web.Response:
    auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
    return web.json_response({"done": True})


def make_app(db: Database, settings: auth.AuthSettings | None = None) -> web.Application:
    app = web.Application()
    auth.setup(app, db, settings)
    app.router.add_get("/api/tenants", tenant_list)
    app.router.add_get("/api/tenants/{tenant_id:\\d+}", tenant_detail)
    app.router.add_post("/api/live/pause", live_control)
    return app


@pytest.fixture
async def client(world: World) -> AsyncIterator[Client]:
    async with TestClient(TestServer(make_app(world.db))) as c:
        yield c


async def login(client: Client, username: str) -> str:
    resp = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    token: str = (await resp.json())["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_token_and_me(client: Client, world: World) -> None:
    resp = await client.post(
        "/api/auth/login", json={"username": world.name("tenant"), "password": PASSWORD}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "Bearer" and body["user"]["role"] == "tenant"
    cookie = resp.cookies[auth.COOKIE_NAME]
    assert cookie.value == body["token"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    client.session.cookie_jar.clear()
    me = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status == 200
    data = await me.json()
    assert data["username"] == world.name("tenant")
    assert [t["id"] for t in data["tenants"]] == [world.tenant_a]
    staff = await client.get(
        "/api/auth/me", headers=bearer(await login(client, world.name("admin")))
    )
    assert (await staff.json())["tenants"] is None


async def test_wrong_password_and_unknown_user_look_the_same(client: Client, world: World) -> None:
    wrong = await client.post(
        "/api/auth/login", json={"username": world.name("admin"), "password": "not-it-at-all"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"username": f"ghost-{world.suffix}", "password": PASSWORD}
    )
    assert wrong.status == unknown.status == 401
    assert (
        await wrong.json()
        == await unknown.json()
        == {
            "error": "unauthorized",
            "detail": "wrong username or password",
        }
    )
    assert auth.COOKIE_NAME not in wrong.cookies


async def test_bad_login_bodies_are_400_with_reason(client: Client) -> None:
    resp = await client.post(
        "/api/auth/login", data=b"username=x", headers={"Content-Type": "text/plain"}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
    resp = await client.post("/api/auth/login", json={"username": "x", "password": 5})
    assert resp.status == 400
    assert (await resp.json())["detail"] == "password: non-empty string required"
    resp = await client.post("/api/auth/login", json=["x"])
    assert resp.status == 400


async def test_token_required(client: Client) -> None:
    anon = await client.get("/api/auth/me")
    assert anon.status == 401 and anon.headers["WWW-Authenticate"].startswith("Bearer")
    assert await anon.json() == {"error": "unauthorized", "detail": "login required"}
    forged = await client.get("/api/auth/me", headers=bearer("x" * 43))
    assert forged.status == 401
    assert (await forged.json())["detail"] == "invalid or expired token"
    basic = await client.get("/api/tenants", headers={"Authorization": "Basic YTpi"})
    assert basic.status == 401
    assert "Bearer" in (await basic.json())["detail"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("supervisor", 200), ("receptionist", 403), ("tenant", 403)],
)
async def test_role_enforcement(client: Client, world: World, role: str, status: int) -> None:
    token = await login(client, world.name(role))
    client.session.cookie_jar.clear()
    resp = await client.post("/api/live/pause", headers=bearer(token))
    assert resp.status == status
    if status == 403:
        assert await resp.json() == {
            "error": "forbidden",
            "detail": f"role {role!r} may not do this",
        }


async def test_tenant_user_cannot_see_other_tenants(client: Client, world: World) -> None:
    token = await login(client, world.name("tenant"))
    own = await client.get(f"/api/tenants/{world.tenant_a}", headers=bearer(token))
    assert own.status == 200 and (await own.json())["name"] == "Müller GmbH"
    other = await client.get(f"/api/tenants/{world.tenant_b}", headers=bearer(token))
    missing = await client.get("/api/tenants/99999999", headers=bearer(token))
    assert other.status == missing.status == 404
    assert (await other.json())["error"] == (await missing.json())["error"] == "not_found"
    listed = await client.get("/api/tenants", headers=bearer(token))
    assert await listed.json() == [world.tenant_a]
    staff = await login(client, world.name("receptionist"))
    seen = await (await client.get("/api/tenants", headers=bearer(staff))).json()
    assert {world.tenant_a, world.tenant_b} <= set(seen)
    assert (await client.get(f"/api/tenants/{world.tenant_b}", headers=bearer(staff))).status == 200


async def test_logout_revokes_the_token(client: Client, world: World) -> None:
    token = await login(client, world.name("supervisor"))
    client.session.cookie_jar.clear()
    assert (await client.get("/api/auth/me", headers=bearer(token))).status == 200
    out = await client.post("/api/auth/logout", headers=bearer(token))
    assert out.status == 200
    assert (await client.get("/api/auth/me", headers=bearer(token))).status == 401
    assert (await client.post("/api/auth/logout", headers=bearer(token))).status == 401


async def test_session_cookie_and_cross_site_writes(client: Client, world: World) -> None:
    await login(client, world.name("admin"))  # the jar now holds the HttpOnly cookie
    assert (await client.get("/api/auth/me")).status == 200
    same = await client.post("/api/live/pause", headers={"Origin": str(client.make_url("/"))[:-1]})
    assert same.status == 200
    evil = await client.post("/api/live/pause", headers={"Origin": "https://evil.example"})
    assert evil.status == 403 and (await evil.json())["detail"] == "cross-site request refused"
    out = await client.post("/api/auth/logout")
    assert out.status == 200
    assert (await client.get("/api/auth/me")).status == 401


async def test_expired_and_disabled(client: Client, world: World) -> None:
    async with world.db.session() as session:
        user_id = await session.scalar(select(User.id).where(User.username == world.name("admin")))
    assert user_id is not None
    expired, _ = await auth.issue_token(world.db, user_id, timedelta(seconds=-1))
    assert (await client.get("/api/auth/me", headers=bearer(expired))).status == 401
    users = UserRepository(world.db)
    name = f"temp-{world.suffix}"
    await users.add(name, PASSWORD, "receptionist")
    token = await login(client, name)
    client.session.cookie_jar.clear()
    await users.set_active(name, False)
    assert (await client.get("/api/auth/me", headers=bearer(token))).status == 401
    again = await client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert again.status == 401


async def test_rate_limit_per_username(world: World) -> None:
    settings = auth.AuthSettings(throttle=ThrottleLimits(pair=RateLimitItemPerMinute(3, 5)))
    async with TestClient(TestServer(make_app(world.db, settings))) as client:
        name = world.name("receptionist")
        for _ in range(3):
            bad = await client.post(
                "/api/auth/login", json={"username": name, "password": "nope-nope"}
            )
            assert bad.status == 401
        blocked = await client.post(
            "/api/auth/login", json={"username": name, "password": PASSWORD}
        )
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
        assert (await blocked.json())["error"] == "too_many_attempts"
        # Another user from the same address is not locked out by someone else's typos.
        assert (
            await client.post(
                "/api/auth/login", json={"username": world.name("admin"), "password": PASSWORD}
            )
        ).status == 200


async def test_weak_hash_is_upgraded_on_login(client: Client, world: World) -> None:
    name = f"legacy-{world.suffix}"
    await UserRepository(world.db).add(name, PASSWORD, "supervisor")
    weak = hash_password(PASSWORD, Params(n=2**10))  # a scrypt hash from before argon2id
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.username == name))
        assert user is not None
        user.password_hash = weak
    await login(client, name)
    async with world.db.session() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == name))
    assert stored is not None and stored.startswith("$argon2id$") and not needs_rehash(stored)
    assert verify_password(PASSWORD, stored)
