"""Screen pop over the in-process bus with real PostgreSQL: match events and call webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from callcenter.bus import InProcessBus
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.lookup import Lookup, Match
from crm.models import WebhookDelivery
from crm.screenpop import ScreenPop, channel_vars
from crm.webhooks import create_endpoint


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


async def _deliveries(db: Database, endpoint_id: int) -> int:
    async with db.session() as s:
        rows = await s.scalars(
            select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        return len(list(rows))


async def test_calls_get_matched_and_webhooks_queued(db: Database) -> None:
    slug = f"sp-{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        t = Tenant(slug=slug, name="Screen Pop GmbH")
        s.add(t)
        await s.flush()
        tenant = t.id
        contact = await repo.create_contact(
            s, tenant, contact_from_mapping({"display_name": "Vera VIP", "vip": True,
                                             "numbers": [{"number": "0171 5554001"}]})
        )  # fmt: skip
        ep = await create_endpoint(s, tenant, "http://127.0.0.1:9/h")
    bus = InProcessBus()
    channel_vars_set: list[tuple[str, str, str]] = []

    async def set_var(channel: str, name: str, value: str) -> None:
        if channel == "L3":
            raise RuntimeError("404 channel not found")  # caller already hung up
        channel_vars_set.append((channel, name, value))

    pop = ScreenPop(db, Lookup(db.engine), bus, set_var=set_var)
    runner = asyncio.create_task(pop.run())
    seen: list[dict[str, object]] = []

    async def listen() -> None:
        async for _t, ev in bus.subscribe("calls"):
            if ev["type"] == "crm.match":
                seen.append(ev)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.05)
    try:
        await bus.publish("calls", {"type": "call.started", "linkedid": "L1", "tenant": slug,
                                    "caller": "+491715554001", "queue": None})  # fmt: skip
        await bus.publish("calls", {"type": "call.started", "linkedid": "L2", "tenant": None,
                                    "caller": None})  # fmt: skip
        await bus.publish("calls", {"type": "call.updated", "linkedid": "L2", "tenant": slug,
                                    "caller": None})  # fmt: skip
        await bus.publish("calls", {"type": "call.started", "linkedid": "L3", "tenant": slug,
                                    "caller": "+4940123456789"})  # fmt: skip
        await bus.publish("calls", {"type": "call.answered", "linkedid": "L1", "tenant": slug,
                                    "caller": "+491715554001", "agent": "Local/a1"})  # fmt: skip
        await bus.publish("calls", {"type": "call.ended", "linkedid": "L1", "tenant": slug,
                                    "caller": "+491715554001", "outcome": "answered"})  # fmt: skip
        for _ in range(100):
            if len(seen) == 3:
                break
            await asyncio.sleep(0.02)
        for _ in range(250):  # until call.ended is handled (a loaded machine is slow)
            if await _deliveries(db, ep.id) >= 5:
                break
            await asyncio.sleep(0.02)
    finally:
        for task in (runner, listener):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    by_call = {ev["linkedid"]: ev["match"] for ev in seen}
    assert by_call["L1"]["contact_id"] == contact.id and by_call["L1"]["vip"]  # type: ignore[index]
    assert by_call["L2"]["status"] == "anonymous"  # type: ignore[index]
    assert by_call["L3"]["label"] == "Unknown caller"  # type: ignore[index]
    async with db.session() as s:
        events = [
            d.event
            for d in await s.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id)
                .order_by(WebhookDelivery.id)
            )
        ]  # fmt: skip
    assert events.count("call.ringing") == 3
    assert events[-2:] == ["call.answered", "call.ended"]
    assert pop.match_of("L1") is None  # forgotten once the call ended
    # Only the contact id goes onto the channel (kept across a resync); the rest of the
    # match travels on the bus, and callers without a contact set nothing.
    assert channel_vars_set == [("L1", "CC_CONTACT", str(contact.id))]


def test_only_the_contact_id_goes_onto_the_channel() -> None:
    evil = Match("contact", "x", contact_id=5, display_name="Eve\r\nAction: Originate", vip=True)
    assert channel_vars(evil) == {"CC_CONTACT": "5"}  # no caller-supplied text reaches AMI
    assert channel_vars(Match("anonymous", "")) == {"CC_CONTACT": ""}


async def test_wire_runs_routes_worker_and_screen_pop(db: Database) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from callcenter import auth
    from callcenter.config import Config
    from callcenter.metrics import Metrics
    from callcenter.services import Services
    from crm import plugin as crm_plugin
    from crm.mailer import SmtpMailer
    from jobs.plugin import JOBS, JobRegistry

    slug = f"wire-{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        s.add(Tenant(slug=slug, name="Wired"))
    bus = InProcessBus()
    services = Services(config=Config(), bus=bus, metrics=Metrics(), db=db)
    jobs = JobRegistry()
    services.provide(JOBS, jobs)
    # a real SMTP client aimed at a closed port: the notes' retry job must shrug it off
    crm_plugin.wire(services, mailer=SmtpMailer("127.0.0.1", 9, timeout=1))
    assert {t.name for t in jobs.tasks} == {"webhooks.deliver", "webhooks.adopt", "notes.email"}
    app = web.Application()
    auth.setup(app, db)
    for setup in services.http_setups:
        setup(app)
    app.cleanup_ctx.extend(services.lifecycles)
    matches: list[dict[str, object]] = []

    async def listen() -> None:
        async for _t, ev in bus.subscribe("calls"):
            if ev["type"] == "crm.match":
                matches.append(ev)

    async with TestClient(TestServer(app)) as client:
        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.05)
        await bus.publish("calls", {"type": "call.started", "linkedid": "W1", "tenant": slug,
                                    "caller": "anonymous"})  # fmt: skip
        for _ in range(100):
            if matches:
                break
            await asyncio.sleep(0.02)
        resp = await client.get("/api/crm/tenants/1/contacts")
        assert resp.status == 401  # routes are installed and protected
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    assert matches and matches[0]["match"]["status"] == "anonymous"  # type: ignore[index]


async def test_routing_lookup_uses_the_tenants_region(db: Database) -> None:
    from crm.plugin import LookupHolder, routing_lookup

    slug = f"rt-{uuid.uuid4().hex[:8]}"
    async with db.session() as s:
        t = Tenant(slug=slug, name="Wien GmbH", region="at")  # lower case on purpose
        s.add(t)
        await s.flush()
        contact = await repo.create_contact(
            s, t.id, contact_from_mapping({"display_name": "Anton VIP", "vip": True,
                                           "numbers": [{"number": "0664 1234567"}]}, "AT")
        )  # fmt: skip
    holder = LookupHolder()
    lookup = routing_lookup(db, holder)
    assert await lookup(slug, "06641234567") == (None, False)  # no lookup running yet
    holder.lookup = Lookup(db.engine)
    # a national number only matches when read in the tenant's region (AT, not DE)
    assert await lookup(slug, "06641234567") == (str(contact.id), True)
    assert await lookup(slug, "+4930999999") == (None, False)
    assert await lookup("no-such-tenant", "06641234567") == (None, False)
