"""Webhook SSRF: loopback, private, link-local and ULA targets are refused before any
connection (a counting server on loopback sees none), also when a name resolves there at
connect time (DNS rebinding); tenants see no transport detail; a circuit breaker stops
attempts to an endpoint that keeps failing. Only loopback traffic, by construction."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from callcenter.db.models import Tenant, utcnow
from callcenter.db.session import Database
from callcenter.egress import CircuitBreaker, EgressGuard, GuardedResolver
from crm import webhook_log, webhooks
from crm.models import WebhookDelivery
from crm.webhooks import RetryPolicy, WebhookSender
from jobs.worker import Permanent, Retry
from tests.integration.test_crm_http import World, client, h, world
from tests.integration.test_crm_webhooks import db

from .conftest import test_port_base

__all__ = ["client", "db", "world"]  # fixtures
REFUSED = "refused: the address is not public (local or private network)"


class CountingServer:
    """Counts TCP connections on 127.0.0.1 (answers nothing)."""

    def __init__(self, port: int) -> None:
        self.port, self.connections = port, 0
        self.server: asyncio.Server | None = None

    async def _on(self, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        w.close()

    async def __aenter__(self) -> CountingServer:
        self.server = await asyncio.start_server(self._on, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class FixedResolver(AbstractResolver):
    """Answers what the test says a name resolves to *now* (as a rebinding DNS would)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def counting() -> AsyncIterator[CountingServer]:
    async with CountingServer(test_port_base() + 160) as server:
        yield server


async def _tenant(db: Database) -> int:
    async with db.session() as s:
        # Other tests' deliveries in this database are settled: a worker claims them all.
        await s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
            .values(status="failed", finished_at=utcnow())
        )
        t = Tenant(slug=f"ssrf-{uuid.uuid4().hex[:8]}", name="SSRF")
        s.add(t)
        await s.flush()
        return t.id


async def _deliver(db: Database, tenant: int, sender: WebhookSender) -> list[dict[str, object]]:
    """One attempt of every delivery of the event (as one job run each)."""
    for delivery_id in await webhooks.emit(db, tenant, "call.answered", {"linkedid": "x"}):
        with contextlib.suppress(Retry, Permanent):
            await sender.deliver(delivery_id)
    async with db.session() as s:
        return await webhook_log.delivery_log(s, tenant)


async def test_local_targets_are_refused_before_connecting(
    db: Database, counting: CountingServer
) -> None:
    tenant = await _tenant(db)
    port = counting.port
    urls = [
        f"http://127.0.0.1:{port}/ari",
        f"http://localhost:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::1]:{port}/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1:5038/",
        "http://192.168.1.1/",
        "http://[fd00::1]:6379/",
        "http://[fe80::1]/",
        "http://100.64.0.1/",
    ]
    async with db.session() as s:
        for url in urls:  # stored directly: as if saved before the check existed
            await webhooks.create_endpoint(s, tenant, url, secret="x")
    guard = EgressGuard()
    async with guard.session() as http:
        log = await _deliver(db, tenant, WebhookSender(db, http, guard=guard))
    assert len(log) == len(urls)
    assert {entry["last_error"] for entry in log} == {REFUSED}
    assert counting.connections == 0


@pytest.mark.parametrize("answer", [("127.0.0.1",), ("8.8.8.8", "127.0.0.1")])
async def test_a_name_resolving_inside_is_refused_at_connect_time(
    db: Database, counting: CountingServer, answer: tuple[str, ...]
) -> None:
    """DNS rebinding: the name is checked when the connection is made, every address."""
    tenant = await _tenant(db)
    async with db.session() as s:
        await webhooks.create_endpoint(
            s, tenant, f"http://rebind.example:{counting.port}/", secret="x"
        )
    guard = EgressGuard()
    resolver = GuardedResolver(guard, inner=FixedResolver(*answer))
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        (entry,) = await _deliver(db, tenant, WebhookSender(db, http, guard=guard))
    assert entry["last_error"] == REFUSED
    assert counting.connections == 0


async def test_the_api_refuses_local_endpoints(client: TestClient, world: World) -> None:  # type: ignore[type-arg]
    base = f"/api/crm/tenants/{world.a}/webhooks"
    for url in (
        "http://127.0.0.1:8088/ari",
        "http://[::1]:6379",
        "http://localhost:5038",
        "http://169.254.169.254/",
        "http://[fd12::3]/",
    ):
        resp = await client.post(base, json={"url": url}, headers=h(world, "admin"))
        body = await resp.json()
        assert resp.status == 400 and body["field"] == "url", (url, body)


async def test_the_breaker_stops_attempts_to_a_failing_endpoint(
    db: Database, counting: CountingServer
) -> None:
    """Against the counting server (closes every connection: a failure each time)."""
    tenant = await _tenant(db)
    async with db.session() as s:
        ep = await webhooks.create_endpoint(
            s, tenant, f"http://127.0.0.1:{counting.port}/", secret="x"
        )
    (delivery_id,) = await webhooks.emit(db, tenant, "call.answered", {"linkedid": "x"})
    guard = EgressGuard.allowing("127.0.0.1/32")
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    policy = RetryPolicy(base=0.01, max_delay=0.01, max_attempts=10)
    refusals: list[Retry] = []
    async with guard.session() as http:
        sender = WebhookSender(db, http, guard=guard, breaker=breaker, policy=policy)
        for _ in range(5):  # as the job engine would run the retries
            try:
                await sender.deliver(delivery_id)
            except Retry as exc:
                refusals.append(exc)
    async with db.session() as s:
        (entry,) = await webhook_log.delivery_log(s, tenant, endpoint_id=ep.id)
    assert counting.connections == 2 and len(entry["log"]) == 2
    assert entry["status"] == "pending" and entry["attempts"] == 2  # waits out the cooldown
    assert "circuit open" in str(refusals[-1]) and 0 < breaker.open_for(ep.id) <= 60
