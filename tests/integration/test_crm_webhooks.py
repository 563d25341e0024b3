"""Webhook deliveries to a real aiohttp receiver that checks the signature; retries and log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.egress import EgressGuard
from crm import webhook_log, webhook_signing, webhooks
from crm.contact import ValidationError
from crm.webhooks import RetryPolicy, WebhookSender
from jobs.worker import Worker


class Receiver:
    """An external CRM: verifies X-Callcenter-Signature the way docs/webhooks.md says."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Callcenter-Timestamp"]
        expected = (
            "sha256="
            + hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        fresh = abs(time.time() - int(ts)) < 300
        if not (fresh and hmac.compare_digest(expected, request.headers["X-Callcenter-Signature"])):
            self.rejected += 1
            return web.Response(status=401)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.received.append({"headers": dict(request.headers), "body": json.loads(body)})
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


# The receivers run on loopback, which the production guard refuses (SSRF): allowed here.
LOOPBACK = EgressGuard.allowing("127.0.0.1/32")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with LOOPBACK.session() as session:
        yield session


async def _tenant(db: Database) -> int:
    async with db.session() as s:
        t = Tenant(slug=f"w-{uuid.uuid4().hex[:8]}", name="Webhook Tenant")
        s.add(t)
        await s.flush()
        return t.id


async def _drain(db: Database, sender: WebhookSender) -> None:
    """Run the deliveries' jobs (retries included) as the app's job worker does."""
    await Worker(db, [sender.task()], poll_interval=0.02).drain(timeout=60, horizon=1.5)


async def test_signed_delivery_reaches_the_receiver(
    db: Database, http: aiohttp.ClientSession
) -> None:
    tenant = await _tenant(db)
    receiver = Receiver("s3cret-for-test")
    await receiver.start()
    try:
        async with db.session() as s:
            ep = await webhooks.create_endpoint(
                s, tenant, receiver.url, ["call.ringing"], secret="s3cret-for-test"
            )
        data = {"linkedid": "1700000000.1", "caller": "+491715550001", "contact_id": 7}
        assert len(await webhooks.emit(db, tenant, "call.ringing", data)) == 1
        assert await webhooks.emit(db, tenant, "call.ended", data) == []  # not subscribed
        # a fresh worker finds the persisted delivery (as after a restart)
        await _drain(db, WebhookSender(db, http, guard=LOOPBACK))
        (got,) = receiver.received
        assert got["body"]["type"] == "call.ringing" and got["body"]["data"] == data
        assert got["body"]["tenant_id"] == tenant
        assert got["headers"]["X-Callcenter-Event"] == "call.ringing"
        async with db.session() as s:
            (entry,) = await webhook_log.delivery_log(s, tenant, endpoint_id=ep.id)
        assert entry["status"] == "delivered" and entry["attempts"] == 1
        assert entry["log"][0]["status_code"] == 204
    finally:
        await receiver.stop()


async def test_receiver_down_gets_retries_with_backoff_and_the_log_shows_them(
    db: Database, http: aiohttp.ClientSession
) -> None:
    tenant = await _tenant(db)
    async with db.session() as s:
        ep = await webhooks.create_endpoint(
            s, tenant, f"http://127.0.0.1:{_closed_port()}/hook", secret="x"
        )
    await webhooks.emit(db, tenant, "voicemail.received", {"voicemail_id": 1})
    policy = RetryPolicy(base=0.05, max_delay=1.0, max_attempts=3)
    await _drain(db, WebhookSender(db, http, guard=LOOPBACK, policy=policy, timeout=2))
    async with db.session() as s:
        (entry,) = await webhook_log.delivery_log(s, tenant, endpoint_id=ep.id)
    assert entry["status"] == "failed" and entry["attempts"] == 3
    assert [a["attempt"] for a in entry["log"]] == [1, 2, 3]
    assert all(a["status_code"] is None and a["error"] == "could not connect" for a in entry["log"])
    times = [_ts(x["at"]) for x in entry["log"]]
    # each retry waited at least the policy's delay after the attempt before it
    for n, (before, after) in enumerate(itertools.pairwise(times), start=1):
        assert after - before >= policy.delay(n) * 0.99


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def test_receiver_that_comes_back_gets_the_event(
    db: Database, http: aiohttp.ClientSession
) -> None:
    tenant = await _tenant(db)
    receiver = Receiver("k", fail_first=2)
    await receiver.start()
    try:
        async with db.session() as s:
            ep = await webhooks.create_endpoint(s, tenant, receiver.url, secret="k")
            wrong = await webhooks.create_endpoint(s, tenant, receiver.url, secret="not-k")
        await webhooks.emit(db, tenant, "call.answered", {"linkedid": "x"})
        await _drain(
            db,
            WebhookSender(db, http, guard=LOOPBACK, policy=RetryPolicy(base=0.05, max_attempts=4)),
        )
        assert len(receiver.received) == 1
        async with db.session() as s:
            (ok,) = await webhook_log.delivery_log(s, tenant, endpoint_id=ep.id)
            (bad,) = await webhook_log.delivery_log(s, tenant, endpoint_id=wrong.id)
        assert [a["status_code"] for a in ok["log"]] == [503, 503, 204]
        assert ok["status"] == "delivered"
        assert bad["status"] == "failed" and {a["status_code"] for a in bad["log"]} == {401}
        assert receiver.rejected == 4
    finally:
        await receiver.stop()


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base=10, max_delay=60, max_attempts=5)
    assert [policy.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_sign_and_verify() -> None:
    body = b'{"a":1}'
    sig = webhook_signing.sign("k", 1700000000, body)
    assert sig.startswith("sha256=") and len(sig) == 71
    assert webhook_signing.verify("k", "1700000000", body, sig, now=1700000100)
    assert not webhook_signing.verify("k", "1700000000", body + b" ", sig, now=1700000100)
    assert not webhook_signing.verify("other", "1700000000", body, sig, now=1700000100)
    assert not webhook_signing.verify("k", "1700000000", body, sig, now=1700001000)  # stale
    assert not webhook_signing.verify("k", "soon", body, sig)


def test_endpoint_validation() -> None:
    with pytest.raises(ValidationError) as info:
        webhooks.validate_endpoint({"url": "ftp://x"})
    assert info.value.field == "url"
    with pytest.raises(ValidationError) as info:
        webhooks.validate_endpoint({"url": "https://x.example/h", "events": ["call.exploded"]})
    assert info.value.field == "events"
