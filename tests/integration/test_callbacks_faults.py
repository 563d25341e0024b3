"""Callbacks under faults, on the real Asterisk and PostgreSQL (the ``faults`` suite).

- Two app instances (own ARI apps, own lease owners, one database) race over one list:
  every callback gets one placeholder and one customer dial, 100 rounds.
- The app dies between the request and the dial, and after placing the placeholder: the
  restarted instance places or adopts it and dials it once.
- Redis (the bus) is SIGKILLed mid-flow: no callback is lost, events resume after restart.
- Asterisk (an extra instance from ``pbx_factory``) is SIGKILLed with a placeholder waiting
  and again while the customer rings: the callback keeps its place, is not counted as a
  dial while the PBX was away, and is dialled (once per attempt) when it is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.retry import RetryPolicy, RetryRule
from callbacks.store import CallbackRepository, NewCallback
from callcenter.bus import RedisBus
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.pbx.ami.message import Message
from callcenter.pbx.sandbox import Sandbox
from tests.integration.apps import PrivateRedis
from tests.integration.callbacks_support import World, make_world, until, utcnow
from tests.integration.conftest import SandboxFactory, test_port_base

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    try:
        yield database
    finally:
        await database.close()


async def _world(pbx: Sandbox, config: Config, db: Database) -> World:
    return await make_world(pbx, config, db, f"q-cbf{uuid.uuid4().hex[:6]}")


async def _teardown(w: World) -> None:
    await w.close()
    for c in await w.channels():
        if c.get("Channel", "").startswith(("Local/q-cbf", "Local/s@cc-callback", "Local/+49305")):
            await w.ami.send_action("Hangup", {"Channel": c["Channel"]})
    await w.live.close()
    await w.ami.close()


@pytest.fixture
async def world(pbx: Sandbox, pbx_config: Config, db: Database) -> AsyncIterator[World]:
    w = await _world(pbx, pbx_config, db)
    try:
        yield w
    finally:
        await _teardown(w)


def customer(n: int) -> str:
    return f"+49305550{n % 10_000:04d}"


def busy(n: int) -> str:
    return f"+49305560{n % 10_000:04d}"


NO_RETRY = RetryPolicy(dict.fromkeys(("busy", "no_answer", "failed", "machine"), RetryRule(1, 0)))


async def add(db: Database, tenant: str, queue: str, numbers: list[str]) -> list[int]:
    repo = CallbackRepository(db, max_per_hour=1000)
    now = utcnow()
    return [await repo.add(NewCallback(tenant, n, queue, "de", None, now)) for n in numbers]


async def attempts_of(db: Database, ids: list[int]) -> dict[int, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(CallbackAttempt.request_id, func.count())
            .where(CallbackAttempt.request_id.in_(ids))
            .group_by(CallbackAttempt.request_id)
        )
        return {int(i): int(n) for i, n in rows}


async def statuses(db: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(CallbackRequest.id, CallbackRequest.status, CallbackRequest.stage).where(
                CallbackRequest.id.in_(ids)
            )
        )
        return {int(i): (s, st) for i, s, st in rows}


async def restart(sandbox: Sandbox, w: World) -> None:
    """SIGKILL Asterisk, start it again, wait until AMI is back (ARI reconnects itself)."""
    sandbox.kill()
    await until(lambda: not w.ami.connected, what="AMI noticed the PBX is gone", timeout=20)
    sandbox.up()
    await w.ami.wait_connected(timeout=30)


def agent_connect(slot: str) -> Message:
    """The AMI event every instance receives when a receptionist takes a placeholder."""
    return Message((("Event", "AgentConnect"), ("Uniqueid", slot), ("MemberName", "agentx")))


async def test_two_instances_race_over_one_list_100_times(world: World, db: Database) -> None:
    """Both instances claim, place and receive the same AgentConnect at the same moment:
    each callback gets exactly one placeholder and exactly one customer dial."""
    tenant = f"race{uuid.uuid4().hex[:4]}"
    one = await world.instance("one", policy=NO_RETRY, window=None, tenants=[tenant])
    two = await world.instance("two", policy=NO_RETRY, window=None, tenants=[tenant])
    all_ids: list[int] = []
    for round_no in range(100):
        # Busy customers end each attempt at once (final: busy), which frees the queue.
        ids = await add(db, tenant, world.queue, [busy(round_no * 3 + i) for i in range(3)])
        placed = await asyncio.gather(one.dialer.place_due(), two.dialer.place_due())
        assert sum(placed) == 3, (round_no, placed)  # SKIP LOCKED: each claimed once
        slots = {f"cbq-{i}-1-a" for i in ids}
        for slot in sorted(slots):  # both instances see the same event at once
            event = agent_connect(slot)
            await asyncio.gather(one.dialer._agent_connect(event), two.dialer._agent_connect(event))
        assert await attempts_of(db, ids) == dict.fromkeys(ids, 1), round_no
        dialled = one.dialer.dialled + two.dialer.dialled
        assert sorted(d for d in dialled if d.split("-")[1] in map(str, ids)) == sorted(
            f"cb-{i}-a1-c" for i in ids
        )
        all_ids += ids
    total = one.dialer.dialled + two.dialer.dialled
    assert len(total) == len(set(total)) == 300
    assert one.dialer.dialled and two.dialer.dialled  # both really competed

    async def all_final() -> bool:
        return all(s == ("failed", None) for s in (await statuses(db, all_ids)).values())

    await until(all_final, what="every callback finished (busy)", timeout=60)
    await until(
        lambda: not [k for k in world.queue_waiting() if k.startswith("cbq-")],
        what="no placeholder left in the queue",
    )


async def test_app_killed_between_request_and_dial_loses_and_doubles_nothing(
    world: World, db: Database
) -> None:
    """One instance places a callback and dies (no clean-up: leases held, placeholder left
    in app_queue); a second request is stored while no dialler runs. The restarted instance
    (same owner id and ARI app) adopts the placeholder, places the other, dials each once."""
    app = f"cbtest-restart-{uuid.uuid4().hex[:6]}"
    tenant = f"kill{uuid.uuid4().hex[:4]}"
    first = await world.instance("host:8080", app=app, tenants=[tenant])
    [x] = await add(db, tenant, world.queue, [customer(1)])
    assert await first.dialer.place_due() == 1
    await until(lambda: f"cbq-{x}-1-a" in world.queue_waiting(), what="placeholder")
    await first.crash(world)
    [y] = await add(db, tenant, world.queue, [customer(2)])  # stored while "down"
    second = await world.instance("host:8080", app=app, tenants=[tenant])
    await second.dialer.start()
    await until(lambda: f"cbq-{y}-1-a" in world.queue_waiting(), what="second placed")
    assert x in second.dialer.jobs  # adopted, not placed again
    assert [k for k in world.queue_waiting() if k.startswith(f"cbq-{x}-")] == [f"cbq-{x}-1-a"]
    await world.agent(1, talk_s=5.0)

    async def done() -> bool:
        return (await statuses(db, [x, y])) == {x: ("done", "connected"), y: ("done", "connected")}

    await until(done, what="both completed", timeout=40)
    assert await attempts_of(db, [x, y]) == {x: 1, y: 1}
    assert first.dialer.dialled == []
    assert sorted(second.dialer.dialled) == sorted([f"cb-{x}-a1-c", f"cb-{y}-a1-c"])


async def test_redis_killed_mid_flow_loses_no_callback(
    world: World, db: Database, tmp_path: Path
) -> None:
    """The bus is a private redis-server, SIGKILLed while a callback is dialled and started
    again: every callback completes once; events flow again after the restart."""
    redis = PrivateRedis(test_port_base() + 110, tmp_path / "redis.log")
    redis.start()
    bus = RedisBus(redis.url)
    seen: list[str] = []

    async def listen() -> None:
        async for _topic, event in bus.subscribe("callbacks"):
            seen.append(f"{event['type']}:{event['id']}")

    async def publish(event: str, payload: object) -> None:
        await bus.publish("callbacks", {"type": event, **dict(payload)})  # type: ignore[call-overload]

    listener = asyncio.create_task(listen())
    try:
        tenant = f"redis{uuid.uuid4().hex[:4]}"
        inst = await world.instance("redis", publish=publish, tenants=[tenant])
        await inst.dialer.start()
        await world.agent(1, talk_s=5.0)
        [a] = await add(db, tenant, world.queue, [customer(11)])
        await until(lambda: f"callback.connected:{a}" in seen, what="events of a", timeout=30)
        redis.kill()
        [b] = await add(db, tenant, world.queue, [customer(12)])

        async def b_done() -> bool:
            return (await statuses(db, [b]))[b][0] == "done"

        await until(b_done, what="b completed with Redis down", timeout=40)
        redis.start()
        await asyncio.sleep(1.0)  # the subscriber reconnects (backoff)
        [c] = await add(db, tenant, world.queue, [customer(13)])

        async def c_seen() -> bool:
            return f"callback.connected:{c}" in seen

        await until(c_seen, what="events of c after the restart", timeout=40)
        assert await attempts_of(db, [a, b, c]) == {a: 1, b: 1, c: 1}
    finally:
        listener.cancel()
        await bus.close()
        redis.kill()


async def test_asterisk_sigkill_keeps_the_place_and_dials_each_attempt_once(
    pbx_factory: SandboxFactory, pbx_config: Config, db: Database
) -> None:
    """SIGKILL of Asterisk with a placeholder waiting: the callback goes back to pending
    (no attempt counted) and is placed again when the PBX is back. SIGKILL while the
    customer rings: the attempt is stored as interrupted and retried; each attempt is
    dialled once."""
    sandbox = pbx_factory()
    sandbox.up()
    config = dataclasses.replace(pbx_config, pbx=sandbox.config)
    w = await _world(sandbox, config, db)
    try:
        tenant = f"sig{uuid.uuid4().hex[:4]}"
        inst = await w.instance("pbxkill", reconcile_s=1.0, tenants=[tenant])
        await inst.dialer.start()
        [x] = await add(db, tenant, w.queue, [f"+49305580{uuid.uuid4().int % 10_000:04d}"])
        await until(lambda: f"cbq-{x}-1-a" in w.queue_waiting(), what="placeholder")
        await restart(sandbox, w)
        await until(lambda: f"cbq-{x}-2-a" in w.queue_waiting(), what="placed again", timeout=40)
        assert (await statuses(db, [x]))[x] == ("dialling", "queued")
        assert await attempts_of(db, [x]) == {}  # losing the placeholder is no attempt
        await w.agent(1, talk_s=8.0)
        await until(lambda: bool(inst.dialer.dialled), what="customer dialled", timeout=20)
        await asyncio.sleep(1.0)  # the customer rings (answers after 3 s)
        await restart(sandbox, w)
        w.agents.clear()  # gone with the PBX
        await w.agent(2, talk_s=8.0)  # members are not persistent: log in again

        async def done() -> bool:
            return (await statuses(db, [x]))[x][0] == "done"

        await until(done, what="completed after the second restart", timeout=60)
        async with db.session() as session:
            outcomes = list(
                (
                    await session.execute(
                        select(CallbackAttempt.outcome)
                        .where(CallbackAttempt.request_id == x)
                        .order_by(CallbackAttempt.attempt)
                    )
                ).scalars()
            )
        assert outcomes == ["interrupted", "answered"]
        assert inst.dialer.dialled == [f"cb-{x}-a1-c", f"cb-{x}-a2-c"]
    finally:
        await _teardown(w)
