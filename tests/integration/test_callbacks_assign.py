"""Assigned and expiring callbacks on the real Asterisk (PostgreSQL): an assigned callback
reaches its receptionist only, falls back to its place in the queue once its time is up,
and a callback past its expiry is never dialled, even when a receptionist takes its
placeholder after it expired."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from callbacks.manage import CallbackAdmin
from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.plugin import free_receptionists
from callbacks.store import CallbackRepository, NewCallback
from callcenter.config import Config
from callcenter.db.session import Database
from callcenter.pbx.sandbox import Sandbox
from tests.integration.callbacks_support import (
    World,
    agent_name,
    migrated_db,
    until,
    utcnow,
    world_of,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    async with migrated_db(pg_url) as database:
        yield database


@pytest.fixture
async def world(pbx: Sandbox, pbx_config: Config, db: Database) -> AsyncIterator[World]:
    async with world_of(pbx, pbx_config, db, "q-cba") as w:
        yield w


def _number() -> str:
    return f"+49305550{uuid.uuid4().int % 10_000:04d}"  # answers, talks 3 s


async def _row(db: Database, request_id: int) -> CallbackRequest:
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
    assert row is not None
    return row


async def _attempts(db: Database, request_id: int) -> list[tuple[str | None, str | None]]:
    async with db.session() as session:
        found = await session.execute(
            select(CallbackAttempt.agent, CallbackAttempt.outcome)
            .where(CallbackAttempt.request_id == request_id)
            .order_by(CallbackAttempt.attempt)
        )
        return [(a, o) for a, o in found.all()]


async def _status(db: Database, request_id: int, status: str) -> bool:
    return (await _row(db, request_id)).status == status


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, event: str, payload: Mapping[str, Any]) -> None:
        self.seen.append((event, dict(payload)))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [p for e, p in self.seen if e == event]


async def test_assigned_callback_rings_its_receptionist_only(world: World, db: Database) -> None:
    """Anna is free in the queue, the callback is assigned to Ben, who is not logged in: it
    never enters app_queue (Anna is never offered it). Ben logs in and is free: his phone
    rings directly, he answers, then the customer is dialled and bridged with him."""
    anna = await world.agent(1, talk_s=5.0)
    ben = agent_name(2)
    request_id = await CallbackRepository(db).add(
        NewCallback("cba", _number(), world.queue, "de", None, utcnow())
    )
    admin = CallbackAdmin(db, assign_fallback=lambda _tenant: 3600.0)
    await admin.change(request_id, utcnow(), requeue=True, assigned_to=ben)
    events = Events()
    inst = await world.instance(
        "as1",
        tenants=["cba"],
        publish=events,
        free_agents=lambda: free_receptionists(world.live.state),
    )
    await until(lambda: anna in free_receptionists(world.live.state), what="anna free")
    assert await inst.dialer.place_due() == 0  # not into the shared queue
    assert await inst.dialer.place_assigned() == 0  # Ben is not there
    assert not [k for k in world.queue_waiting() if k.startswith("cbq-")]
    await world.agent(2, talk_s=5.0, name=ben)
    await until(lambda: ben in free_receptionists(world.live.state), what="ben free")
    assert await inst.dialer.place_assigned() == 1
    await until(lambda: _status(db, request_id, "done"), what="completed", timeout=20)
    assert await _attempts(db, request_id) == [(ben, "answered")]
    slot_b = f"cbq-{request_id}-1-b"  # the receptionist's channel: a placeholder's ;2 id
    customer = f"cb-{request_id}-a1-c"
    assert world.connects == []  # app_queue offered it to nobody (Anna was never rung)
    assert inst.dialer.dialled == [customer]
    assert world.bridged(customer, slot_b)
    [offered] = events.of("callback.offered")
    assert (offered["agent"], offered["assigned"]) == (ben, ben)
    [queued] = events.of("callback.queued")
    assert queued["direct"] == f"Local/{ben}@agents/n"


async def test_assigned_callback_falls_back_to_its_place(world: World, db: Database) -> None:
    """Assigned to a receptionist who never comes: while the assignment's time runs it is
    not placed; once it has passed, app_queue offers it to whoever is free (Anna)."""
    anna = await world.agent(1, talk_s=5.0)
    request_id = await CallbackRepository(db).add(
        NewCallback("cba", _number(), world.queue, "de", None, utcnow())
    )
    admin = CallbackAdmin(db, assign_fallback=lambda _tenant: 3600.0)
    await admin.change(request_id, utcnow(), requeue=True, assigned_to=agent_name(9))
    inst = await world.instance(
        "as2", tenants=["cba"], free_agents=lambda: free_receptionists(world.live.state)
    )
    assert await inst.dialer.place_due() == 0
    async with db.session() as session:  # the fallback time has passed
        await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id)
            .values(assigned_until=utcnow() - timedelta(seconds=1))
        )
    assert await inst.dialer.place_due() == 1
    await until(lambda: _status(db, request_id, "done"), what="completed", timeout=20)
    assert await _attempts(db, request_id) == [(anna, "answered")]
    assert f"cbq-{request_id}-1-a" in world.connects  # through app_queue this time


async def test_expired_callback_is_never_dialled(world: World, db: Database) -> None:
    """A request older than the tenant's max age is not placed and ends ``expired``; one
    that expires while its placeholder waits is not dialled when a receptionist takes the
    placeholder: the fence refuses it, the receptionist is freed, nothing is dialled."""
    aged = CallbackRepository(db, max_age=lambda _tenant: 0.0)
    old_id = await aged.add(NewCallback("cbx", _number(), world.queue, "de", None, utcnow()))
    assert (await _row(db, old_id)).expires_at is not None
    repo = CallbackRepository(db, max_age=lambda _tenant: 3600.0)
    request_id = await repo.add(NewCallback("cbx", _number(), world.queue, "de", None, utcnow()))
    events = Events()
    inst = await world.instance("ex1", tenants=["cbx"], publish=events)
    assert await inst.dialer.place_due() == 1  # only the one still young enough
    slot = f"cbq-{request_id}-1-a"
    await until(lambda: slot in world.queue_waiting(), what="placeholder waiting")
    assert await inst.dialer.expire_due() == 1  # the old one
    old = await _row(db, old_id)
    assert (old.status, old.outcome, old.attempts) == ("failed", "expired", 0)
    async with db.session() as session:  # its max age passes while it waits
        await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await world.agent(1, talk_s=5.0)
    await until(lambda: slot in world.connects, what="receptionist takes the placeholder")
    await until(lambda: _status(db, request_id, "failed"), what="expired", timeout=15)
    row = await _row(db, request_id)
    assert (row.outcome, row.attempts) == ("expired", 0)
    assert await _attempts(db, request_id) == []
    assert inst.dialer.dialled == []  # no customer was dialled, ever
    await until(lambda: slot not in world.queue_waiting(), what="placeholder gone")
    assert sorted(p["id"] for p in events.of("callback.expired")) == [old_id, request_id]
