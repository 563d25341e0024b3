"""Customer first across an app restart (real Asterisk, PostgreSQL): the guard's progress
is in the tables, so a restarted instance resumes the attempt where it was. The customer
answered and heard "press 1" from the first instance, which then died; the 1 they pressed
while no app listened is lost, the restarted instance asks again (the second of its two
prompts), the next 1 confirms, and the receptionist who comes later is bridged with them.
Dialled once, one attempt, nothing settled as interrupted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.plugin import queue_position_of
from callbacks.prompts import Media, install_placeholders
from callbacks.store import CallbackRepository, NewCallback
from callcenter.config import Config
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.pbx.ami.message import Message
from callcenter.pbx.sandbox import Sandbox
from tests.integration.callbacks_support import (
    World,
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
    async with world_of(pbx, pbx_config, db, "q-cbr") as w:
        yield w


async def _state(
    db: Database, request_id: int, number: int = 1
) -> tuple[CallbackRequest, CallbackAttempt | None]:
    """The request and its attempt ``number``."""
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
        attempt = (
            await session.execute(
                select(CallbackAttempt).where(
                    CallbackAttempt.request_id == request_id, CallbackAttempt.attempt == number
                )
            )
        ).scalar_one_or_none()
    assert row is not None
    return row, attempt


async def _customer_first(world: World, db: Database, tag: str) -> tuple[str, dict[str, Any]]:
    """A tenant of its own in customer-first mode and the instance settings both app
    instances share (a restart keeps the ARI app); returns the tenant's slug and them."""
    slug = f"cb{tag}{uuid.uuid4().hex[:8]}"
    async with db.session() as session:
        session.add(Tenant(slug=slug, name=f"CF {tag} GmbH"))
    install_placeholders(world.pbx.sounds_dir)
    media = Media(world.pbx.sound_path("callbacks"))
    return slug, {
        "app": f"cbtest-cf{tag}-{uuid.uuid4().hex[:6]}",
        "tenants": [slug],
        "mode_for": lambda _tenant: "customer_first",
        "position_of": lambda queue, channel: queue_position_of(world.live.state, queue, channel),
        "guard_media": lambda _job: [media.phrase("cb-press-1")],
        "guard_timeout_s": 3.0,
    }


async def _guard_running(db: Database, request_id: int) -> bool:
    """The customer answered and the first "press 1" prompt is stored."""
    _, attempt = await _state(db, request_id)
    return attempt is not None and attempt.picked_up_at is not None and attempt.guard_plays > 0


async def test_customer_first_resumes_after_an_app_restart(world: World, db: Database) -> None:
    slug, same = await _customer_first(world, db, "r")
    number = f"+49305610{uuid.uuid4().int % 10_000:04d}"  # presses 1 every second
    presses: list[str] = []

    def on_ami(msg: Message) -> None:
        named = msg.name == "UserEvent" and msg.get("UserEvent") == "CbPress"
        if named and msg.get("Number") == number:
            presses.append(msg.get("Uniqueid") or "")

    world.ami.add_event_listener(on_ami)
    first = await world.instance("cfr:8080", **same)
    await first.dialer.start()
    request_id = await CallbackRepository(db).add(
        NewCallback(slug, number, world.queue, "de", None, utcnow())
    )
    customer = f"cb-{request_id}-a1-c"

    await until(
        lambda: _guard_running(db, request_id), what="customer answered, prompted", timeout=30
    )
    assert not presses  # the crash comes before the customer's first 1
    await first.crash(world)
    await until(lambda: bool(presses), what="a 1 pressed while no app listens")
    second = await world.instance("cfr:8080", **same)
    await second.dialer.start()

    async def stage_is_confirmed() -> bool:
        return (await _state(db, request_id))[0].stage == "confirmed"

    await until(stage_is_confirmed, what="confirmed after the repeated prompt", timeout=20)
    row, attempt = await _state(db, request_id)
    assert attempt is not None
    assert (row.status, row.attempts, attempt.outcome, attempt.mode) == (
        "dialling",
        1,
        "answered",
        "customer_first",
    )
    assert attempt.guard_plays == 2  # one prompt before the crash, one after
    assert first.dialer.dialled == [customer] and second.dialer.dialled == []
    assert world.connects == []  # no receptionist yet: the customer waits with music
    await world.agent(1, talk_s=3.0)
    await until(
        lambda: world.bridged(customer, f"cbq-{request_id}-1-b"), what="bridged", timeout=20
    )

    async def completed() -> bool:
        return (await _state(db, request_id))[0].outcome == "completed"

    await until(completed, what="completed", timeout=10)
    row, attempt = await _state(db, request_id)
    assert attempt is not None and attempt.agent == world.agents[0]
    assert (row.status, row.attempts) == ("done", 1)


async def test_a_customer_whose_placeholder_went_while_no_app_ran_is_not_left_on_hold(
    world: World, db: Database
) -> None:
    """The first instance dies while its customer hears "press 1"; the placeholder ends
    before another instance runs (hung up here; a PBX hiccup would do the same). Nobody can
    ever be bridged with that customer: the restarted instance ends the customer's leg
    (it held them on hold for good before) and counts the attempt as interrupted."""
    slug, same = await _customer_first(world, db, "g")
    number = f"+49305610{uuid.uuid4().int % 10_000:04d}"  # presses 1 every second
    first = await world.instance("cfg:8080", **same)
    await first.dialer.start()
    request_id = await CallbackRepository(db).add(
        NewCallback(slug, number, world.queue, "de", None, utcnow())
    )
    customer = f"cb-{request_id}-a1-c"

    await until(
        lambda: _guard_running(db, request_id), what="customer answered, prompted", timeout=30
    )
    await first.crash(world)
    slot_b = f"cbq-{request_id}-1-b"
    msg = await world.ami.send_action("Hangup", {"Channel": slot_b})
    assert msg.get("Response") == "Success", msg

    async def gone(uid: str) -> bool:
        return uid not in {c.get("Uniqueid", "") for c in await world.channels()}

    await until(lambda: gone(f"cbq-{request_id}-1-a"), what="placeholder gone", timeout=10)
    assert not await gone(customer)  # still there, on hold, with no app
    second = await world.instance("cfg:8080", **same)
    await second.dialer.start()
    await until(lambda: gone(customer), what="customer leg ended", timeout=20)

    async def interrupted() -> bool:
        _, attempt = await _state(db, request_id)
        return attempt is not None and attempt.outcome == "interrupted"

    await until(interrupted, what="attempt 1 interrupted", timeout=10)
    assert world.connects == []  # never bridged with anybody
    assert customer not in second.dialer.dialled  # that attempt is never dialled again
