"""Every scenario in config/scenarios/ on the real Asterisk, PostgreSQL and live state.

The demo tenants of config/tenants/ are loaded (recordings as espeak-ng placeholders,
published into the PBX), their queues and voicemail boxes generated into the instance, and
the app's parts wired as in production: the IVR runner, the position announcer and the
callback desk behind the Stasis dispatcher, queue load and positions from the AMI-fed live
state, finished calls stored by the live state service. Only the IVR clock is injected
(the scenario's ``at``), so after-hours and holiday paths run on any day.

Each scenario checks what its ``[expect]`` table says: the media and language of every
playback on the caller's channel (ARI PlaybackStarted), the hand-off (queue and QUEUE_PRIO
on the channel in app_queue), position announcements played on the snoop channel, the
stored callback request, the voicemail file in the spool, and the call row's outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callbacks.desk import HANDOFF as CALLBACK
from callbacks.desk import OfferDesk
from callbacks.prompts import Media, install_placeholders
from callbacks.store import CallbackRepository
from callcenter.bus import InProcessBus
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.session import Database
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ari import AriClient, AriError, AriEvent
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import ScenarioFile, load_scenario_file, place_call
from callcenter.pbx.stasis import StasisDispatcher
from callcenter.phone.policy import policy_for
from callcenter.state.live import LiveState
from callcenter.state.service import LiveStateService
from ivr import voicemail
from ivr.loader import load_tenant_file
from ivr.placeholders import generate_for_file
from ivr.plugin import announce_position, publish_recordings
from ivr.position import PURPOSE as ANNOUNCE
from ivr.position import PositionAnnouncer, Waiting, waiting_in
from ivr.prompts import PromptSources
from ivr.queue_load import queue_loads
from ivr.registry import TenantRegistry
from ivr.routing import QueueLoad
from ivr.stasis import PURPOSE, IvrRunner

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((REPO / "config" / "scenarios").glob("*.toml"))
TENANTS = sorted((REPO / "config" / "tenants").glob("*.toml"))
AGENT = "agentsc1"  # a receptionist who is logged in but paused: callers wait


@dataclass
class World:
    pbx: Sandbox
    config: Config
    ari: AriClient
    ami: AmiClient
    service: LiveStateService
    calls: CallRepository
    callbacks: CallbackRepository
    runner: IvrRunner
    announcer: PositionAnnouncer
    media_root: str
    clock: list[datetime]
    queues: tuple[str, ...]
    events: list[AriEvent] = field(default_factory=list)

    def media(self, ref: str, language: str) -> str:
        if ref.startswith("cb:"):
            return f"sound:{self.pbx.sound_path('callbacks')}/{ref[3:]}"
        if ref.startswith("rec:"):
            return f"sound:{self.media_root}/mueller/{language}/{ref[4:]}"
        return ref if ":" in ref else f"sound:{ref}"


async def eventually(check: Any, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def world(
    pbx: Sandbox, pbx_config: Config, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    recordings = tmp_path_factory.mktemp("recordings")
    for path in TENANTS:
        generate_for_file(path, recordings)
    media_root = publish_recordings(recordings, pbx_config.pbx, pbx_config.app.data_dir)
    sources = PromptSources.for_pbx_root(pbx_config.pbx.root, recordings)
    registry = TenantRegistry()
    registry.replace([load_tenant_file(path, sources) for path in TENANTS])
    tenants = registry.tenants()
    queues = tuple(sorted({q.name for t in tenants for q in t.routing.queues}))
    pbx.write_generated(
        "queues-ivrscenarios.conf", "".join(f"[{name}](cc-queue-defaults)\n" for name in queues)
    )
    pbx.reload("app_queue")
    voicemail.install(pbx, tenants)

    c = pbx_config.pbx
    ami = AmiClient(
        c.host,
        c.ami_port,
        c.ami_username,
        c.ami_secret,
        ping_interval=1.0,
        ping_timeout=1.0,
        reconnect_min=0.05,
        reconnect_max=0.3,
    )
    calls = CallRepository(db)
    service = LiveStateService(ami, LiveState(region="DE"), InProcessBus(), calls)
    await service.start()
    await ami.start()
    await ami.wait_connected(15)

    async def resynced() -> bool:
        return service.resyncs >= 1

    await eventually(resynced, "the live state's first resync", 15)

    def loads() -> dict[str, QueueLoad]:
        state = service.state
        return queue_loads(state.queues, state.agents.members.values(), service.clock())

    def waiting(channel_id: str) -> Waiting | None:
        state = service.state
        return waiting_in(
            state.queues, list(state.agents.members.values()), service.clock(), channel_id
        )

    ari = AriClient.from_config(c)
    await ari.start()
    await ari.wait_connected(timeout=10.0)
    clock = [datetime.now(UTC)]
    announcer = PositionAnnouncer(ari, waiting)
    runner = IvrRunner(
        ari,
        registry,
        loads,
        recordings_media_root=media_root,
        clock=lambda: clock[0],
        on_queued=announce_position(announcer, registry),
    )
    callbacks = CallbackRepository(db)
    install_placeholders(pbx.sounds_dir)
    desk = OfferDesk(
        ari,
        callbacks,
        Media(pbx.sound_path("callbacks")),
        policy=lambda slug: policy_for(registry.get(slug)),
    )
    dispatcher = StasisDispatcher(ari)
    dispatcher.register(PURPOSE, runner.on_stasis_start)
    dispatcher.register(ANNOUNCE, announcer.on_stasis_start)
    dispatcher.register(CALLBACK, desk.on_handoff)
    world = World(
        pbx,
        pbx_config,
        ari,
        ami,
        service,
        calls,
        callbacks,
        runner,
        announcer,
        media_root,
        clock,
        queues,
    )

    async def handler(event: AriEvent) -> None:
        world.events.append(event)
        if event.type == "StasisStart":
            await dispatcher(event)
            return
        for listener in (runner.on_event, announcer.on_event, desk.on_event):
            await listener(event)

    ari.add_handler(handler)
    try:
        yield world
    finally:
        await runner.close()
        await announcer.close()
        await desk.close()
        await ari.close()
        for name in queues:
            await ami.send_action(
                "QueueRemove", {"Queue": name, "Interface": f"Local/{AGENT}@agents/n"}
            )
        await service.close()
        await ami.close()
        await db.close()
        pbx.remove_generated("queues-ivrscenarios.conf")


async def staff_queues(world: World, names: list[str]) -> None:
    """Exactly the queues ``names`` get the paused receptionist; wait for the live state."""
    interface = f"Local/{AGENT}@agents/n"
    await world.ami.send_action(
        "Setvar", {"Variable": f"DEVICE_STATE(Custom:{AGENT})", "Value": "NOT_INUSE"}, check=True
    )
    for name in world.queues:
        await world.ami.send_action("QueueRemove", {"Queue": name, "Interface": interface})
    for name in names:
        await world.ami.send_action(
            "QueueAdd",
            {
                "Queue": name,
                "Interface": interface,
                "StateInterface": f"Custom:{AGENT}",
                "MemberName": "Paula",
                "Paused": "true",
            },
            check=True,
        )

    async def settled() -> bool:
        loads = queue_loads(
            world.service.state.queues, world.service.state.agents.members.values(), time.time()
        )
        return all(
            (loads.get(q, QueueLoad.unknown()).agents_logged_in > 0) == (q in names)
            for q in world.queues
        )

    await eventually(settled, f"receptionist logged in to exactly {names}", 10)


def played_on(world: World, target: str, since: int) -> list[tuple[str, str]]:
    return [
        (e.playback.media_uri, e.playback.language)
        for e in world.events[since:]
        if e.type == "PlaybackStarted"
        and e.playback is not None
        and e.playback.target_uri == f"channel:{target}"
    ]


def announced_to(world: World, leg: str, since: int) -> list[tuple[str, str]]:
    return [
        (e.playback.media_uri, e.playback.language)
        for e in world.events[since:]
        if e.type == "PlaybackStarted"
        and e.playback is not None
        and e.playback.target_uri.startswith(f"channel:{leg}-ann")
    ]


async def in_queue(world: World, leg: str) -> dict[str, str | None]:
    async def queued() -> bool:
        try:
            return (await world.ari.channel(leg)).dialplan.context == "cc-queue"
        except AriError:
            return False

    await eventually(queued, f"{leg} in cc-queue", 90)
    channel = await world.ari.channel(leg)
    values = {n: await world.ari.get_var(leg, n) for n in ("QUEUE_PRIO", "CC_LANGUAGE")}
    values["queue"] = channel.dialplan.exten
    return values


def inbox_messages(world: World, box: str) -> set[Path]:
    return set(voicemail.spool_inbox(world.pbx, "mueller", box).glob("msg*.wav"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
async def test_scenario(world: World, path: Path) -> None:
    sf: ScenarioFile = load_scenario_file(path)
    expect = sf.expect
    assert sf.at is not None, f"{path.name}: scenarios for the test need 'at'"
    world.clock[0] = sf.at
    await staff_queues(world, list(expect.get("agents", [])))
    mailbox = str(expect.get("mailbox", ""))
    before = inbox_messages(world, mailbox) if mailbox else set()
    since = len(world.events)
    caller = await place_call(world.ari, world.config.pbx, sf.scenario)
    leg = f"{caller}-in"
    handoff = expect["handoff"]

    if handoff == "queue":
        queued = await in_queue(world, leg)
        assert (queued["queue"], queued["QUEUE_PRIO"]) == (expect["queue"], str(expect["priority"]))

    async def stored() -> Any:
        return await world.calls.get(caller)

    duration = sf.scenario.duration + 40
    record = await eventually(stored, f"the call row of {sf.name}", duration)
    wanted = [(world.media(ref, lang), lang) for ref, lang in expect["played"]]
    assert played_on(world, leg, since) == wanted
    assert record.outcome == expect["outcome"]
    assert record.tenant == "mueller"

    if handoff == "queue":
        assert record.queue == expect["queue"]
    if handoff in ("voicemail", "callback"):
        assert record.extra.get("cc_outcome") == handoff
    if handoff == "voicemail":
        assert await world.callbacks.by_linkedid(caller) is None
        new = inbox_messages(world, mailbox) - before
        assert len(new) == 1, f"expected one new message in the spool, got {sorted(new)}"
        assert next(iter(new)).stat().st_size > 8000  # more than half a second of audio
    if handoff == "callback":
        request = await world.callbacks.by_linkedid(caller)
        assert request is not None, "no callback request stored"
        assert (request.number, request.queue, request.language, request.status) == (
            expect["callback_number"],
            expect["queue"],
            wanted[-1][1],  # the language the caller ended in (the choice comes first)
            "pending",
        )
    if "announced" in expect:
        heard = announced_to(world, leg, since)
        first = [tuple(item) for item in expect["announced"]]
        assert heard[: len(first)] == first, heard
        # Played to its end on the snoop (whispered to the caller), while the caller waited
        # in the queue: the snoop's playback finished "done", not cut by a hang-up.
        finished = [
            e.playback.state
            for e in world.events[since:]
            if e.type == "PlaybackFinished"
            and e.playback is not None
            and e.playback.target_uri == f"channel:{leg}-ann1"
        ]
        assert finished == ["done"]
        whispered_during = [
            e for e in world.events[since:] if e.type == "StasisStart" and e.args == ["announce"]
        ]
        assert whispered_during and whispered_during[0].channel_id == f"{leg}-ann1"
        assert record.outcome == "abandoned" and record.queue == expect["queue"]
