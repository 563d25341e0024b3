"""The callback REST API on a real aiohttp server with real logins on PostgreSQL: create
(refusals named by field and policy reason), merge, list with virtual positions, cancel,
reprioritise, schedule, annotate, assign, tenant isolation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callbacks import http
from callbacks.leases import LeaseStore
from callbacks.store import CallbackRepository
from callcenter import auth
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.phone.policy import DestinationPolicy
from tests.conftest import fresh_database
from tests.integration.callbacks_support import utcnow

PASSWORD = "cb-Test-Passw0rd"
Client = TestClient[web.Request, web.Application]
pytestmark = pytest.mark.postgres


@dataclass
class World:
    client: Client
    db: Database
    tokens: dict[str, str]
    events: list[tuple[str, dict[str, Any]]]
    slug: str
    other: str

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        return resp.status, await resp.json()


@pytest.fixture(scope="module")
def cb_http_url() -> Iterator[str]:
    with fresh_database("cc_cbhttp") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
async def world(cb_http_url: str) -> AsyncIterator[World]:
    if True:
        db = Database(cb_http_url)
        slug, other = f"cb{uuid.uuid4().hex[:6]}", f"cbo{uuid.uuid4().hex[:6]}"
        async with db.session() as session:
            session.add_all([Tenant(slug=slug, name="CB GmbH"), Tenant(slug=other, name="O")])
        users = UserRepository(db)
        tag = uuid.uuid4().hex[:6]
        await users.add(f"cb-receptionist-{tag}", PASSWORD, "receptionist")
        await users.add(f"cb-tenant-{tag}", PASSWORD, "tenant", tenant_slugs=[other])
        events: list[tuple[str, dict[str, Any]]] = []

        async def publish(event: str, payload: dict[str, Any]) -> None:
            events.append((event, payload))

        app = web.Application()
        auth.setup(app, db)
        http.setup(
            app,
            db,
            CallbackRepository(db),
            lambda _slug: DestinationPolicy.for_country("DE"),
            None,
            publish=publish,
        )
        async with TestClient(TestServer(app)) as client:
            tokens = {}
            for role in ("receptionist", "tenant"):
                resp = await client.post(
                    "/api/auth/login",
                    json={"username": f"cb-{role}-{tag}", "password": PASSWORD},
                )
                tokens[role] = (await resp.json())["token"]
            yield World(client, db, tokens, events, slug, other)
        await db.close()


def new(slug: str, number: str, **more: Any) -> dict[str, Any]:
    return {"tenant": slug, "queue": "q-cb-de", "number": number, **more}


REFUSED = [
    ("+49 900 1234567", "premium_rate"),
    ("+881 6 12345678", "international_network"),
    ("112", "emergency"),
    ("not a number", "malformed"),
]
BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"tenant": None}, "tenant"),
    ({"queue": ""}, "queue"),
    ({"priority": "high"}, "priority"),
    ({"due_at": "tomorrow"}, "due_at"),
    ({"due_at": "2026-12-01T10:00:00"}, "due_at"),
    ({"number": "+49 30 1234\r\n567"}, "number"),
]


async def test_refusals_name_the_field_and_the_policy_reason(world: World) -> None:
    """Premium-rate, satellite, emergency and malformed numbers: 422 with the reason; a
    malformed body: 400 naming the field. Nothing is stored."""
    for number, reason in REFUSED:
        status, body = await world.call(
            "receptionist", "POST", "/api/callbacks", new(world.slug, number)
        )
        assert status == 422, body
        assert (body["error"], body["reason"]) == ("invalid_number", reason)
        assert body["detail"].startswith("number:")
    for patch, field in BAD_FIELDS:
        request = {**new(world.slug, "+49 30 1234567"), **patch}
        status, body = await world.call("receptionist", "POST", "/api/callbacks", request)
        assert status == 400, body
        assert body["detail"].startswith(f"{field}:")
    _, listed = await world.call("receptionist", "GET", f"/api/callbacks?tenant={world.slug}")
    assert listed == {"callbacks": []}


async def test_create_merge_list_and_manage(world: World) -> None:
    w = world
    status, first = await w.call(
        "receptionist", "POST", "/api/callbacks", new(w.slug, "+49 30 1111111")
    )
    assert status == 201 and first["merged"] is False
    status, again = await w.call(
        "receptionist", "POST", "/api/callbacks", new(w.slug, "030 1111111", priority=5)
    )
    assert (status, again) == (201, {"id": first["id"], "merged": True})  # keeps the place
    _, second = await w.call(
        "receptionist", "POST", "/api/callbacks", new(w.slug, "+49 30 2222222")
    )
    status, listed = await w.call("receptionist", "GET", f"/api/callbacks?tenant={w.slug}")
    assert status == 200
    rows = listed["callbacks"]
    assert [(r["id"], r["position"], r["priority"], r["requests"]) for r in rows] == [
        (first["id"], 1, 5, 2),  # the merge raised it to priority 5
        (second["id"], 2, 0, 1),
    ]
    cid = second["id"]
    status, moved = await w.call(
        "receptionist", "POST", f"/api/callbacks/{cid}/priority", {"priority": 9}
    )
    assert (status, moved["priority"]) == (200, 9)
    status, noted = await w.call(
        "receptionist", "POST", f"/api/callbacks/{cid}/note", {"note": "Wants Frau Roth"}
    )
    assert (status, noted["note"]) == (200, "Wants Frau Roth")
    status, assigned = await w.call(
        "receptionist", "POST", f"/api/callbacks/{cid}/assign", {"agent": "anna"}
    )
    assert (status, assigned["assigned_to"], assigned["agent"]) == (200, "anna", None)
    assert assigned["assigned_until"] is not None  # then anyone may take it
    # A schedule at or after the expiry would never be dialled: refused, naming the field.
    _, short = await w.call(
        "receptionist",
        "POST",
        "/api/callbacks",
        new(w.slug, "+49 30 5555555", expires_at="2026-12-02T10:00:00+01:00"),
    )
    status, late = await w.call(
        "receptionist",
        "POST",
        f"/api/callbacks/{short['id']}/schedule",
        {"at": "2026-12-02T10:30:00+01:00"},
    )
    assert status == 400 and late["detail"].startswith("at:"), late
    await w.call("receptionist", "POST", f"/api/callbacks/{short['id']}/cancel")
    status, planned = await w.call(
        "receptionist",
        "POST",
        f"/api/callbacks/{cid}/schedule",
        {"at": "2026-12-02T09:30:00+01:00"},
    )
    assert (status, planned["due_at"]) == (200, "2026-12-02T08:30:00+00:00")
    _, listed = await w.call("receptionist", "GET", f"/api/callbacks?tenant={w.slug}")
    assert [r["id"] for r in listed["callbacks"]] == [cid, first["id"]]  # priority 9 first
    status, cancelled = await w.call("receptionist", "POST", f"/api/callbacks/{cid}/cancel")
    assert (status, cancelled["status"], cancelled["outcome"]) == (200, "cancelled", "cancelled")
    status, conflict = await w.call(
        "receptionist", "POST", f"/api/callbacks/{cid}/priority", {"priority": 1}
    )
    assert status == 409 and "can no longer be changed" in conflict["detail"]
    assert [e for e, _ in w.events] == [
        "callback.requested", "callback.requested", "callback.requested", "callback.updated",
        "callback.updated", "callback.assigned", "callback.requested", "callback.cancelled",
        "callback.updated", "callback.cancelled",
    ]  # fmt: skip
    # A callback being dialled can be annotated, not moved.
    leases = LeaseStore(w.db, "test")
    [job] = await leases.claim(utcnow(), [w.slug])
    assert await leases.begin_attempt(job.id, job.token, "anna", utcnow()) is not None
    status, _ = await w.call("receptionist", "POST", f"/api/callbacks/{job.id}/cancel")
    assert status == 409
    status, detail = await w.call("receptionist", "GET", f"/api/callbacks/{job.id}")
    assert status == 200 and [a["attempt"] for a in detail["attempt_log"]] == [1]
    assert detail["stage"] == "ringing"


async def test_tenant_users_see_only_their_tenant_and_cannot_change(world: World) -> None:
    w = world
    _, mine = await w.call("receptionist", "POST", "/api/callbacks", new(w.other, "+49 30 3333333"))
    _, theirs = await w.call(
        "receptionist", "POST", "/api/callbacks", new(w.slug, "+49 30 4444444")
    )
    status, listed = await w.call("tenant", "GET", "/api/callbacks")
    assert status == 200 and [r["id"] for r in listed["callbacks"]] == [mine["id"]]
    status, _ = await w.call("tenant", "GET", f"/api/callbacks/{theirs['id']}")
    assert status == 404
    status, _ = await w.call("tenant", "POST", f"/api/callbacks/{mine['id']}/cancel")
    assert status == 403
    status, _ = await w.call("receptionist", "POST", "/api/callbacks/abc/cancel")
    assert status == 404
