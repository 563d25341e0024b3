"""Callbacks on the real Asterisk: the virtual place in app_queue, agent-first dialling,
retries and stored attempts (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.offering import PURPOSE as OFFER_ANNOUNCE
from callbacks.offering import Candidate, OfferAnnouncer
from callbacks.plugin import queue_position_of
from callbacks.prompts import Media, install_placeholders
from callbacks.store import CallbackRepository, NewCallback
from callcenter.config import Config
from callcenter.db.calls import CallRepository
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.sandbox import Sandbox
from stats.definitions import Counters, Settings, contributions
from stats.period import Period
from stats.reports import callback_attempt_counts
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
    async with world_of(pbx, pbx_config, db, "q-cbt") as w:
        yield w


async def rows(db: Database, request_id: int) -> tuple[CallbackRequest, list[CallbackAttempt]]:
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
        attempts = list(
            (
                await session.execute(
                    select(CallbackAttempt)
                    .where(CallbackAttempt.request_id == request_id)
                    .order_by(CallbackAttempt.attempt)
                )
            ).scalars()
        )
    assert row is not None
    return row, attempts


async def test_callback_keeps_its_place_and_reaches_agent_then_customer(
    world: World, db: Database
) -> None:
    """A (live) came first, B asked for a callback, C came later: served A, B, C; the
    callback reaches the receptionist first, then the customer; both legs bridged."""
    a = await world.caller()
    b_joined = utcnow()
    await asyncio.sleep(0.05)
    c = await world.caller()
    repo = CallbackRepository(db)
    number = f"+49305550{uuid.uuid4().int % 10_000:04d}"
    request_id = await repo.add(
        NewCallback("cbt", number, world.queue, "de", None, utcnow(), arrival_at=b_joined)
    )
    inst = await world.instance("one", tenants=["cbt"])
    await inst.dialer.start()
    slot = f"cbq-{request_id}-1-a"
    await until(lambda: slot in world.queue_waiting(), what="placeholder in the queue")
    order = sorted(world.queue_waiting().items(), key=lambda kv: kv[1])
    assert [k for k, _ in order][:1] == [a]
    await world.agent(1, talk_s=5.0)
    await until(lambda: len(world.connects) >= 3, what="three connects", timeout=30)
    assert world.connects[:3] == [a, slot, c]
    # The customer leg was dialled once, answered, bridged with the placeholder's ;2.
    await until(lambda: _status(db, request_id, "done"), what="callback completed", timeout=20)
    row, attempts = await rows(db, request_id)
    assert (row.outcome, row.attempts) == ("completed", 1)
    assert [(t.attempt, t.outcome, t.channel_id) for t in attempts] == [
        (1, "answered", f"cb-{request_id}-a1-c")
    ]
    assert attempts[0].answered_at is not None
    customer = f"cb-{request_id}-a1-c"
    assert inst.dialer.dialled == [customer]
    # Agent first: the receptionist was connected before the customer's channel existed.
    assert world.log.index(("AgentConnect", slot)) < world.log.index(("Newchannel", customer))
    assert world.bridged(customer, f"cbq-{request_id}-1-b")


async def _stage(db: Database, request_id: int, stage: str) -> bool:
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
        return row is not None and row.stage == stage


async def _status(db: Database, request_id: int, status: str) -> bool:
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
        return row is not None and row.status == status


async def test_caller_presses_the_key_confirms_and_keeps_the_place(
    world: World, db: Database
) -> None:
    """Done-when scenario: a caller waiting in the queue presses the key, confirms their
    number, hangs up; the live caller before and the one after and the callback are served
    in arrival order; receptionist first, then the customer's number; outcome stored."""
    inst = await world.instance("desk", main_app=True, tenants=["cbt"])
    desk = world.desk(inst)
    await inst.dialer.start()
    a = await world.caller()
    number = f"+49305550{uuid.uuid4().int % 10_000:04d}"
    b = await world.caller(number=number, steps="w:1^d:*^w:3^d:1^w:30")
    b_joined = world.queue_waiting()[b]
    await until(lambda: bool(desk.stored), what="request stored", timeout=20)
    request_id = desk.stored[0]
    slot = f"cbq-{request_id}-1-a"
    await until(lambda: slot in world.queue_waiting(), what="placeholder in the queue")
    assert b not in world.queue_waiting()
    c = await world.caller()
    # C's position (what its announcement says) counts the callback ahead of it.
    q = world.live.state.queues[world.queue]
    assert (q.waiting[a].position, q.waiting[slot].position, q.waiting[c].position) == (1, 2, 3)
    played = desk.played[b]
    spoken = "0305550" + number[-4:]  # read back digit by digit, in the national form
    assert played[0][1:-1] == tuple(f"sound:digits/{d}" for d in spoken)
    row, _ = await rows(db, request_id)
    assert row.arrival_at is not None and abs(row.arrival_at.timestamp() - b_joined) < 0.01
    assert (row.source, row.number, row.linkedid is not None) == ("queue", number, True)
    await world.agent(1, talk_s=5.0)
    await until(lambda: len(world.connects) >= 3, what="three served", timeout=30)
    assert world.connects[:3] == [a, slot, c]
    await until(lambda: _status(db, request_id, "done"), what="completed", timeout=20)
    row, attempts = await rows(db, request_id)
    customer = f"cb-{request_id}-a1-c"
    assert (row.outcome, row.attempts, [t.outcome for t in attempts]) == (
        "completed",
        1,
        ["answered"],
    )
    assert world.log.index(("AgentConnect", slot)) < world.log.index(("Newchannel", customer))
    assert world.bridged(customer, f"cbq-{request_id}-1-b")
    # Statistics count each caller once: A, B (diverted to the callback, not abandoned)
    # and C are offered; the placeholder and customer legs add nothing.
    calls = CallRepository(db)
    linkedids = [a.replace("-in", "-out"), b.replace("-in", "-out"), c.replace("-in", "-out")]
    legs = [slot, customer]

    async def all_written() -> bool:
        await world.live.wait_written()
        return all([await calls.get(x) is not None for x in linkedids + legs])

    await until(all_written, what="call rows written", timeout=40)
    records = [await calls.get(x) for x in linkedids + legs]
    assert records[1] is not None and records[1].outcome == "diverted"
    assert records[3] is not None and records[3].extra.get("callback_leg") == "placeholder"
    total = Counters()
    for record in records:
        assert record is not None
        for grain, _key, counters in contributions(record, Settings()):
            if grain == "tenant":
                total.add(counters)
    assert (total.offered, total.answered, total.abandoned, total.callback) == (3, 2, 0, 1)


async def test_waiting_caller_hears_the_offer_once_then_presses_the_key(
    world: World, db: Database
) -> None:
    """The automatic offer: once the estimate passes the tenant's threshold the phrase is
    whispered into the waiting call (a snoop, in the caller's language), once; the caller
    presses the key and the request is stored with the place they had."""
    inst = await world.instance("offer", main_app=True, tenants=["cbt"])
    desk = world.desk(inst)
    events: list[AriEvent] = []

    async def keep(event: AriEvent) -> None:
        events.append(event)

    inst.ari.add_handler(keep)
    estimate = {"s": 60.0}  # below the threshold at first

    def candidates() -> list[Candidate]:
        return [
            Candidate(uid, "en", estimate["s"], 120.0)
            for uid in world.queue_waiting()
            if not uid.startswith("cbq-")
        ]

    offers = OfferAnnouncer(
        inst.ari, Media(world.pbx.sound_path("callbacks")), candidates, tick_s=0.2
    )
    inst.stasis.register(OFFER_ANNOUNCE, offers.on_stasis_start)
    inst.ari.add_handler(offers.on_event)
    await offers.start()
    try:
        number = f"+49305550{uuid.uuid4().int % 10_000:04d}"
        # The offer (about 6 s) is heard first; the key comes after it.
        b = await world.caller(number=number, steps="w:12^d:*^w:3^d:1^w:30")
        await asyncio.sleep(0.6)
        assert offers.offers == []  # 60 s estimated: not past 120 s
        estimate["s"] = 300.0
        await until(lambda: bool(desk.stored), what="request stored", timeout=30)
    finally:
        await offers.close()
    assert offers.offers == [b]  # offered once, though checked every 0.2 s
    snoop = f"channel:{b}-cbo"
    started = [
        e.playback
        for e in events
        if e.type == "PlaybackStarted" and e.playback and e.playback.target_uri == snoop
    ]
    assert [(p.media_uri, p.language) for p in started] == [
        (f"sound:{world.pbx.sound_path('callbacks')}/cb-offer", "en")
    ]
    finished = [
        e.playback.state
        for e in events
        if e.type == "PlaybackFinished" and e.playback and e.playback.target_uri == snoop
    ]
    assert finished == ["done"]  # heard to its end while waiting
    row, _ = await rows(db, desk.stored[0])
    assert (row.source, row.number) == ("queue", number)


async def _customer_first(world: World, db: Database, owner: str) -> str:
    """A customer-first dialler for a tenant of its own (a row: the report counts by it)."""
    slug = f"cbf{uuid.uuid4().hex[:8]}"
    async with db.session() as session:
        session.add(Tenant(slug=slug, name="CF GmbH"))
    install_placeholders(world.pbx.sounds_dir)
    media = Media(world.pbx.sound_path("callbacks"))
    inst = await world.instance(
        owner,
        tenants=[slug],
        mode_for=lambda _tenant: "customer_first",
        position_of=lambda queue, channel: queue_position_of(world.live.state, queue, channel),
        guard_media=lambda _job: [media.phrase("cb-press-1")],
        guard_timeout_s=2.0,
    )
    await inst.dialer.start()
    return slug


async def _attempt_figures(db: Database, slug: str) -> dict[str, int]:
    """The controlling report's callback dial figures for today (stats.reports)."""
    today = utcnow().date()
    async with db.session() as session:
        tenant_id = (await session.execute(select(Tenant.id).where(Tenant.slug == slug))).scalar()
        assert tenant_id is not None
        return await callback_attempt_counts(
            session, tenant_id, Period("day", today, today, ZoneInfo("UTC"))
        )


async def test_customer_first_the_customer_presses_1_then_a_receptionist_is_bridged(
    world: World, db: Database
) -> None:
    """Customer first: at the head of the queue the customer is dialled before any
    receptionist is free, hears "press 1 to be connected", presses 1 and waits at the head
    with music; the next receptionist is bridged with them."""
    slug = await _customer_first(world, db, "cf-human")
    number = f"+49305590{uuid.uuid4().int % 10_000:04d}"
    request_id = await CallbackRepository(db).add(
        NewCallback(slug, number, world.queue, "de", None, utcnow())
    )
    customer, slot = f"cb-{request_id}-a1-c", f"cbq-{request_id}-1-a"
    # Stored as confirmed once the customer pressed 1 (no receptionist exists yet), as
    # completed only once a receptionist is bridged with them.
    await until(lambda: _stage(db, request_id, "confirmed"), what="confirmed", timeout=30)
    assert ("Newchannel", customer) in world.log and world.connects == []
    await world.agent(1, talk_s=3.0)
    await until(
        lambda: world.bridged(customer, f"cbq-{request_id}-1-b"), what="bridged", timeout=20
    )
    assert world.connects == [slot]
    await until(lambda: _status(db, request_id, "done"), what="completed", timeout=10)
    row, attempts = await rows(db, request_id)
    assert (row.outcome, [t.outcome for t in attempts]) == ("completed", ["answered"])
    assert world.log.index(("Newchannel", customer)) < world.log.index(("AgentConnect", slot))
    assert await _attempt_figures(db, slug) == {
        "attempts": 1,
        "attempts_reached": 1,
        "attempts_failed": 0,
        "attempts_machine": 0,
    }


async def test_customer_first_an_answering_machine_never_gets_the_receptionist(
    world: World, db: Database
) -> None:
    """An answering machine answers and never presses 1: the guard plays twice, then the
    call ends as outcome "machine"; the receptionist who took the placeholder meanwhile
    was never bridged with it and is free again."""
    await world.agent(1, talk_s=60.0)
    slug = await _customer_first(world, db, "cf-machine")
    number = f"+49305600{uuid.uuid4().int % 10_000:04d}"
    request_id = await CallbackRepository(db).add(
        NewCallback(slug, number, world.queue, "de", None, utcnow())
    )
    customer, slot = f"cb-{request_id}-a1-c", f"cbq-{request_id}-1-a"
    await until(lambda: _status(db, request_id, "failed"), what="finished", timeout=40)
    row, attempts = await rows(db, request_id)
    assert [t.outcome for t in attempts] == ["machine"]
    assert row.outcome == "no_answer"  # FAST_RETRY: one machine attempt, then final
    assert ("Newchannel", customer) in world.log
    assert world.connects == [slot]  # the receptionist took the placeholder, rung only
    assert not world.bridged(customer, f"cbq-{request_id}-1-b")
    assert not any(customer in members and len(members) > 1 for members in world.bridges.values())
    # Controlling counts the dial: one attempt, not reached, an answering machine.
    assert await _attempt_figures(db, slug) == {
        "attempts": 1,
        "attempts_reached": 0,
        "attempts_failed": 1,
        "attempts_machine": 1,
    }


async def test_key_of_a_tenant_with_callbacks_off_keeps_the_caller_in_the_queue(
    world: World, db: Database
) -> None:
    """[callbacks] enabled = false: the key does not take the caller out; they are back in
    the queue at the place they had (cc-queue-rejoin), and nothing is stored."""
    inst = await world.instance("off", main_app=True, tenants=["cbt"])
    desk = world.desk(inst, enabled=lambda _tenant: False)
    a = await world.caller()
    b = await world.caller(number="+4915112345679", steps="w:4^d:*^w:40")
    c = await world.caller()
    await until(lambda: b in desk.rejoined, what="the key pressed", timeout=20)

    def back_in_place() -> bool:
        q = world.live.state.queues.get(world.queue)
        if q is None or not {a, b, c} <= set(q.waiting):
            return False
        return (q.waiting[a].position, q.waiting[b].position, q.waiting[c].position) == (1, 2, 3)

    await until(back_in_place, what="B back between A and C", timeout=20)
    assert desk.stored == [] and desk.played.get(b) is None


async def _getvar(world: World, channel: str, variable: str) -> str:
    msg = await world.ami.send_action("Getvar", {"Channel": channel, "Variable": variable})
    assert msg.get("Response") == "Success", msg
    return msg.get("Value") or ""


async def test_placeholders_join_at_exact_places_around_live_callers_and_stale_rows(
    world: World, db: Database
) -> None:
    """The table can still show a callback queued whose placeholder a receptionist took a
    moment ago (its fence not yet written). Positions counted from the table put the next
    placeholders one place too far back, at the end, where their joins could overtake each
    other (bench/callbacks.py saw arrival order broken). Counted from app_queue's entries,
    each placeholder gets its exact place: A (before the live caller), live, B, C."""
    repo = CallbackRepository(db)
    tenant = f"cbo{uuid.uuid4().hex[:6]}"  # only this test's rows are claimed
    start = utcnow()
    stale = await repo.add(
        NewCallback(tenant, "+493055509001", world.queue, "de", None, start, arrival_at=start)
    )
    async with db.session() as session:  # taken: queued in the table, gone from app_queue
        row = await session.get(CallbackRequest, stale)
        assert row is not None
        row.status, row.stage, row.lease_owner, row.lease_token = "dialling", "queued", "x", 1
        row.lease_until = start + timedelta(hours=1)
    await asyncio.sleep(0.05)
    a_at = utcnow()
    await asyncio.sleep(0.05)
    live = await world.caller()
    await asyncio.sleep(0.05)
    b_at = utcnow()
    await asyncio.sleep(0.05)
    c_at = utcnow()
    ids = [
        await repo.add(
            NewCallback(tenant, f"+49305550900{n}", world.queue, "de", None, at, arrival_at=at)
        )
        for n, at in ((2, a_at), (3, b_at), (4, c_at))
    ]
    # Window 4: the stale row counts as one of the queue's placeholders.
    inst = await world.instance("order", tenants=[tenant], window=4)
    assert await inst.dialer.place_due() == 3
    slots = [f"cbq-{i}-1-a" for i in ids]
    await until(lambda: all(s in world.queue_waiting() for s in slots), what="all placed")
    assert [int(await _getvar(world, s, "CC_CB_POSITION")) for s in slots] == [1, 3, 4]
    q = world.live.state.queues[world.queue]
    in_queue = sorted(q.waiting.values(), key=lambda w: w.position)
    assert [w.uniqueid for w in in_queue] == [slots[0], live, slots[1], slots[2]]


async def test_a_waiting_placeholder_streams_no_media(world: World, db: Database) -> None:
    """Queue()'s ringing ("r") on an answered Local channel made the core play the ring
    tone in-band on ;1: a tone generator writing 8 kHz audio, converted to the pair's
    slin192 and read away by ;2 in Stasis, 50 frames a second for nobody (40 waiting
    placeholders took 126-174 % of a core). With the tone-less zone the placeholder's ;1
    has no generator, so it writes in its own native format, and nothing flows."""
    repo = CallbackRepository(db)
    tenant = f"cbs{uuid.uuid4().hex[:6]}"
    request_id = await repo.add(
        NewCallback(tenant, "+493055509005", world.queue, "de", None, utcnow())
    )
    inst = await world.instance("silent", tenants=[tenant])
    assert await inst.dialer.place_due() == 1
    slot = f"cbq-{request_id}-1-a"
    await until(lambda: slot in world.queue_waiting(), what="placeholder in the queue")
    await asyncio.sleep(0.3)  # Queue() has started its ringing indication
    native = (await _getvar(world, slot, "CHANNEL(audionativeformat)")).strip("()")
    assert await _getvar(world, slot, "CHANNEL(audiowriteformat)") == native  # was slin
    assert await _getvar(world, slot, "CHANNEL(tonezone)") == "ccsilent"
