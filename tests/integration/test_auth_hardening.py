"""Login throttle (counted before the password check, per account+address, slowed per
account, shared through Redis), argon2id, trusted proxies and the Secure cookie."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from limits import RateLimitItemPerMinute
from sqlalchemy import select

from callcenter import auth
from callcenter.app import auth_settings
from callcenter.config import AuthConfig, ConfigError
from callcenter.db import migrate
from callcenter.db.models import User
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.login_guard import LoginGuard, ThrottleLimits
from callcenter.passwords import WeakPassword
from callcenter.proxies import forwarded_middleware
from tests.conftest import REDIS_URL

PASSWORD = "hardening-Passw0rd"
Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    try:
        yield database
    finally:
        await database.close()


async def _user(db: Database, role: str = "receptionist") -> str:
    name = f"h-{role}-{uuid.uuid4().hex[:8]}"
    await UserRepository(db).add(name, PASSWORD, role)
    return name


def _app(
    db: Database,
    guard: LoginGuard | None = None,
    proxies: tuple[str, ...] = (),
    settings: auth.AuthSettings | None = None,
) -> web.Application:
    app = web.Application(middlewares=[forwarded_middleware(proxies)] if proxies else [])
    auth.setup(app, db, settings, guard)
    return app


async def _login(client: Client, name: str, password: str, peer: str | None = None) -> int:
    headers = {"X-Forwarded-For": peer} if peer else {}
    resp = await client.post(
        "/api/auth/login", json={"username": name, "password": password}, headers=headers
    )
    return resp.status


async def test_concurrent_wrong_passwords_are_counted_before_checking(db: Database) -> None:
    """60 at once: on the old main all 60 got 401 (the count came after the hash)."""
    name = await _user(db)
    async with TestClient(TestServer(_app(db))) as client:
        statuses = await asyncio.gather(*(_login(client, name, "wrong-guess") for _ in range(60)))
    assert statuses.count(401) == ThrottleLimits().pair.amount  # 10
    assert statuses.count(429) == 60 - ThrottleLimits().pair.amount


async def test_an_attacker_does_not_lock_the_owner_out(db: Database) -> None:
    """Guessing from one address stops that address for that account; the owner, elsewhere
    in the office or at home, still logs in (behind the trusted proxy)."""
    name = await _user(db)
    async with TestClient(TestServer(_app(db, proxies=("127.0.0.1",)))) as client:
        for _ in range(12):
            await _login(client, name, "wrong-guess", peer="203.0.113.66")
        assert await _login(client, name, "wrong-guess", peer="203.0.113.66") == 429
        assert await _login(client, name, PASSWORD, peer="198.51.100.7") == 200


async def test_many_addresses_are_slowed_per_account(db: Database) -> None:
    limits = ThrottleLimits(account=RateLimitItemPerMinute(5, 1))
    name = await _user(db)
    async with TestClient(TestServer(_app(db, LoginGuard(limits=limits), ("127.0.0.1",)))) as c:
        codes = [await _login(c, name, "wrong", peer=f"203.0.113.{i}") for i in range(1, 8)]
        assert codes == [401] * 5 + [429] * 2
        resp = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.9"})  # fmt: skip
        assert resp.status == 429 and 0 < int(resp.headers["Retry-After"]) <= 61
        assert "slowed down" in (await resp.json())["detail"]


async def test_forwarded_headers_from_untrusted_peers_are_ignored(db: Database) -> None:
    """Without trusted proxies a client rotating X-Forwarded-For is still one address."""
    name = await _user(db)
    async with TestClient(TestServer(_app(db))) as client:
        codes = [await _login(client, name, "wrong", peer=f"203.0.113.{i}") for i in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


@pytest.mark.redis
async def test_counts_are_shared_through_redis(db: Database) -> None:
    """Two app instances, one Redis: the pair window fills across both."""
    name = await _user(db)
    apps = [_app(db, LoginGuard.for_redis(REDIS_URL)) for _ in range(2)]
    async with TestClient(TestServer(apps[0])) as one, TestClient(TestServer(apps[1])) as two:
        codes = [await _login((one, two)[i % 2], name, "wrong") for i in range(11)]
    assert codes == [401] * 10 + [429]


async def test_passwords_are_argon2id(db: Database) -> None:
    name = await _user(db)
    async with db.session() as session:
        stored = await session.scalar(select(User.password_hash).where(User.username == name))
    assert stored is not None and stored.startswith("$argon2id$")


async def test_cookie_secure_from_config_or_the_trusted_proxy(db: Database) -> None:
    name = await _user(db)
    secure = auth_settings(AuthConfig(cookie_secure="true"))
    async with TestClient(TestServer(_app(db, settings=secure))) as client:
        resp = await client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert resp.cookies[auth.COOKIE_NAME]["secure"]
    async with TestClient(TestServer(_app(db, proxies=("127.0.0.1",)))) as client:
        resp = await client.post(
            "/api/auth/login",
            json={"username": name, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"},
        )
        assert resp.status == 200 and resp.cookies[auth.COOKIE_NAME]["secure"]
    async with TestClient(TestServer(_app(db))) as client:  # plain HTTP, no proxy: not Secure
        resp = await client.post("/api/auth/login", json={"username": name, "password": PASSWORD},
                                 headers={"X-Forwarded-Proto": "https"})  # fmt: skip
        assert not resp.cookies[auth.COOKIE_NAME]["secure"]


def test_auth_section_is_validated() -> None:
    AuthConfig(cookie_secure="auto", token_hours=8, trusted_proxies="10.0.0.0/8, ::1").validate()
    for bad, key in (
        (AuthConfig(cookie_secure="yes"), "auth.cookie_secure"),
        (AuthConfig(token_hours=0), "auth.token_hours"),
        (AuthConfig(trusted_proxies="proxy.example"), "auth.trusted_proxies"),
    ):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            bad.validate()


async def test_weak_admin_passwords_are_refused(db: Database) -> None:
    with pytest.raises(WeakPassword, match="most common"):
        await UserRepository(db).add(f"h-admin-{uuid.uuid4().hex[:6]}", "Passwort2024!", "admin")


async def test_an_office_address_is_limited_by_failures_only(db: Database) -> None:
    """On the old main 50 failures locked a whole office address, the admin included. Now
    successful logins never use the address window up, and failures are a wide limit."""
    limits = ThrottleLimits(address=RateLimitItemPerMinute(3, 5))
    names = [await _user(db) for _ in range(4)]
    async with TestClient(TestServer(_app(db, LoginGuard(limits=limits)))) as client:
        for _ in range(5):  # colleagues logging in all morning
            assert [await _login(client, n, PASSWORD) for n in names] == [200] * 4
        assert [await _login(client, n, "typo") for n in names[:3]] == [401] * 3
        assert await _login(client, names[3], PASSWORD) == 429  # now: 3 failures
