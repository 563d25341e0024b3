"""Live state against the real Asterisk 22 and PostgreSQL (issue 2, "done when").

A caller placed with callcenter.pbx.simulate (Local channel into the inbound context, caller
script on the other leg)
reaches queue ``q-default`` where an auto-answering Local agent picks up: the call shows in
the live state (waiting, then answered) and, after hang-up, as exactly one call row with
consistent times. An unanswered caller who gives up is ``abandoned``. Then Asterisk is
SIGKILLed and started again: within 5 s of it being back the live state matches
``core show channels`` and the calls that were up are rows with outcome ``lost``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.bus import InProcessBus
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.session import Database
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, Wait, place_call
from callcenter.state.live import LiveState
from callcenter.state.records import CallRecord
from callcenter.state.service import LiveStateService

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

QUEUE = "q-default"
DID = "+493012345600"
AGENT = "agentd1"  # matches the agents context's _age[n]t. pattern
AGENT_IF = f"Local/{AGENT}@agents/n"
# Defaults of the [globals] in config/asterisk/extensions.conf, restored after each test.
GLOBAL_DEFAULTS = {"CC_AGENT_RING_SECONDS": "0", "CC_AGENT_TALK_SECONDS": "3600"}


@dataclass
class Live:
    ami: AmiClient
    service: LiveStateService
    repo: CallRepository
    bus: InProcessBus
    pbx: Sandbox
    config: Config
    ari: AriRest

    async def action(self, name: str, **headers: str) -> None:
        await self.ami.send_action(name, headers, check=True)

    async def agents(self, *, ring: float, talk: float, member: bool = True) -> None:
        await self.action("Setvar", Variable="CC_AGENT_RING_SECONDS", Value=str(ring))
        await self.action("Setvar", Variable="CC_AGENT_TALK_SECONDS", Value=str(talk))
        await self.action("Setvar", Variable=f"DEVICE_STATE(Custom:{AGENT})", Value="NOT_INUSE")
        if member:
            await self.ami.send_action(
                "QueueAdd",
                {
                    "Queue": QUEUE,
                    "Interface": AGENT_IF,
                    "StateInterface": f"Custom:{AGENT}",
                    "MemberName": "Dora",
                },
            )
        else:
            await self.ami.send_action("QueueRemove", {"Queue": QUEUE, "Interface": AGENT_IF})

    async def place_call(self, caller: str, name: str, stay: float) -> str:
        """A simulated caller (callcenter.pbx.simulate) who stays ``stay`` s after the
        answer; returns the linkedid (the caller half's channel id)."""
        scenario = Scenario(DID, caller, name, steps=(Wait(stay),))
        return await place_call(self.ari, self.config.pbx, scenario)

    def call_of(self, caller: str) -> dict[str, Any] | None:
        for call in self.service.snapshot()["calls"].values():
            if call["caller"] == caller:
                return dict(call)
        return None


async def eventually(
    check: Callable[[], Any],
    what: str,
    timeout: float = 15.0,
    show: Callable[[], object] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (and
    ``show()``, the state that did not match)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; seen: {show()!r}" if show is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{seen}")
        await asyncio.sleep(0.05)


async def row_for(live: Live, linkedid: str, timeout: float = 15.0) -> CallRecord:
    deadline = time.monotonic() + timeout
    while True:
        record = await live.repo.get(linkedid)
        if record is not None:
            return record
        if time.monotonic() > deadline:
            pytest.fail(f"no call row for {linkedid} after {timeout} s")
        await asyncio.sleep(0.1)


def cli_channels(pbx: Sandbox) -> set[str]:
    """Channel names from ``core show channels concise`` (``name!context!exten!…``)."""
    out = pbx.cli("core show channels concise")
    return {line.split("!", 1)[0] for line in out.splitlines() if "!" in line}


def state_channels(service: LiveStateService) -> set[str]:
    return {c.name for c in service.state.channels.by_id.values()}


@pytest.fixture
async def live(pbx: Sandbox, pbx_config: Config, pg_url: str) -> AsyncIterator[Live]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
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
    bus = InProcessBus()
    repo = CallRepository(db)
    service = LiveStateService(ami, LiveState(region="DE"), bus, repo)
    await service.start()
    await ami.start()
    await ami.wait_connected(15)
    await eventually(lambda: service.resyncs >= 1, "the first resync")
    ari = AriRest(f"http://{c.host}:{c.http_port}", c.ari_username, c.ari_password, c.ari_app)
    live = Live(ami, service, repo, bus, pbx, pbx_config, ari)
    try:
        yield live
    finally:
        if ami.connected:
            for name, value in GLOBAL_DEFAULTS.items():
                await ami.send_action("Setvar", {"Variable": name, "Value": value})
            await ami.send_action("QueueRemove", {"Queue": QUEUE, "Interface": AGENT_IF})
            await ami.send_action("Hangup", {"Channel": "/^Local/", "Cause": "16"})
        await ari.close_session()
        await service.close()
        await ami.close()
        await db.close()


async def test_answered_call_is_live_then_one_row(live: Live) -> None:
    await live.agents(ring=2, talk=3)
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for _, event in live.bus.subscribe("calls"):
            events.append(event)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)  # subscribed before the call starts
    caller = "+4930111201"
    t0 = time.time()
    linkedid = await live.place_call(caller, "Jürgen Müller", 30)
    waiting = await eventually(
        lambda: next(
            (
                w
                for w in live.service.snapshot()["queues"][QUEUE]["callers"]
                if w["linkedid"] == linkedid
            ),
            None,
        ),
        "the caller waiting in the queue",
        show=lambda: (live.service.snapshot()["queues"], live.call_of(caller)),
    )
    assert waiting["position"] == 1 and waiting["caller_num"] == caller
    call = live.call_of(caller)
    assert call is not None and call["phase"] in ("queued", "ringing")
    assert call["did"] == DID and call["queue"] == QUEUE
    answered = await eventually(
        lambda: (c := live.call_of(caller)) and c["phase"] == "answered" and c,
        "the answer",
        show=lambda: live.call_of(caller),
    )
    assert answered["agent"] == "Dora"
    assert answered["linkedid"] == linkedid
    record = await row_for(live, linkedid)
    t1 = time.time()
    assert record.outcome == "answered"
    assert record.caller == caller and record.caller_name == "Jürgen Müller"
    assert record.did == DID and record.queue == QUEUE and record.agent == "Dora"
    assert record.queued_at is not None and record.answered_at is not None
    assert t0 - 1 <= record.entered_at.timestamp() <= record.queued_at.timestamp()
    assert record.queued_at <= record.answered_at <= record.ended_at
    assert record.ended_at.timestamp() <= t1
    # The agent rings 2 s then talks 3 s (dialplan Wait): the PBX's figures agree.
    assert record.wait_seconds == pytest.approx(2.0, abs=0.6)
    assert record.talk_seconds == pytest.approx(3.0, abs=0.6)
    assert abs(record.extra["pbx_hold_time"] - record.wait_seconds) <= 1
    assert abs(record.extra["pbx_talk_time"] - record.talk_seconds) <= 1
    assert "pbx_mismatch" not in record.extra
    assert live.call_of(caller) is None
    # The append-only call event log holds the call's story in order.
    await eventually(
        lambda: live.service.events_logged > 0 and not live.service.pending_events,
        "the event log to be written",
    )
    logged = [row[2] for row in await live.repo.events(linkedid)]
    assert logged[0] == "call.started" and logged[-1] == "call.ended"
    assert logged.index("call.queued") < logged.index("call.answered")
    # Between two QueueStatus lists the queue's figures follow the PBX's own counting.
    params = next(
        m
        for m in await live.ami.send_list_action("QueueStatus", {"Queue": QUEUE})
        if m.name == "QueueParams"
    )
    ours = live.service.snapshot()["queues"][QUEUE]["pbx"]
    for key, header in (
        ("holdtime", "Holdtime"),
        ("talktime", "TalkTime"),
        ("completed", "Completed"),
    ):
        assert ours[key] == int(params[header]), (key, ours, params)
    # Exactly one row for this caller, and the bus told the dashboards the same story.
    rows = [r for r in await live.repo.list_calls(limit=100_000) if r.caller == caller]
    assert [r.linkedid for r in rows] == [linkedid]
    await eventually(
        lambda: any(e["type"] == "call.ended" and e["linkedid"] == linkedid for e in events),
        "call.ended on the bus",
    )
    collector.cancel()
    kinds = [e["type"] for e in events if e.get("linkedid") == linkedid]
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert [e["outcome"] for e in events if e["type"] == "call.ended"] == ["answered"]
    assert kinds.index("call.queued") < kinds.index("call.answered") < kinds.index("call.ended")


async def test_caller_giving_up_in_queue_is_abandoned(live: Live) -> None:
    await live.agents(ring=0, talk=3, member=False)
    caller = "+4930111202"
    linkedid = await live.place_call(caller, "Geduldig", 3)
    call = await eventually(lambda: live.call_of(caller), "the call in the live state")
    assert call["linkedid"] == linkedid
    record = await row_for(live, linkedid)
    assert record.outcome == "abandoned"
    assert record.answered_at is None and record.agent is None
    # The caller script's 3 s start at the answer; the queue join follows ~0.5 s later.
    assert record.queued_at is not None and record.wait_seconds is not None
    assert 2.0 <= record.wait_seconds <= 3.2
    waited = (record.ended_at - record.queued_at).total_seconds()
    assert record.wait_seconds == pytest.approx(waited, abs=0.1)
    assert abs(record.extra["pbx_hold_time"] - record.wait_seconds) <= 1


async def test_asterisk_killed_and_back_state_matches_and_calls_are_lost(live: Live) -> None:
    await live.agents(ring=0, talk=120)
    talking, waiting = "+4930111203", "+4930111204"
    first = await live.place_call(talking, "Spricht", 120)
    await eventually(
        lambda: (c := live.call_of(talking)) and c["phase"] == "answered",
        "the first answer",
        show=lambda: live.call_of(talking),
    )
    second = await live.place_call(waiting, "Wartet", 120)  # the only agent is busy
    await eventually(
        lambda: (c := live.call_of(waiting)) and c["phase"] == "queued",
        "the second caller",
        show=lambda: live.call_of(waiting),
    )
    lost = {first: talking, second: waiting}
    expected = cli_channels(live.pbx)
    assert len(expected) >= 4
    assert state_channels(live.service) == expected

    # A second app instance starting now rebuilds the same picture from the lists alone.
    c = live.config.pbx
    ami2 = AmiClient(c.host, c.ami_port, c.ami_username, c.ami_secret)
    fresh = LiveStateService(ami2, LiveState(), InProcessBus(), live.repo)
    await fresh.start()
    await ami2.start()
    try:
        await eventually(lambda: fresh.resyncs >= 1, "the fresh instance's resync")
        assert state_channels(fresh) == cli_channels(live.pbx)
        snap = fresh.snapshot()
        queue = snap["queues"][QUEUE]
        assert [w["caller_num"] for w in queue["callers"]] == [waiting]
        assert queue["callers"][0]["wait"] >= 0
        assert snap["agents"][AGENT_IF]["in_call"] is True
        phases = {c["caller"]: c["phase"] for c in snap["calls"].values()}
        assert phases == {talking: "answered", waiting: "queued"}
        # manager.conf channelvars bring the call's DID back with the channel list.
        assert {c["did"] for c in snap["calls"].values()} == {DID}
    finally:
        await fresh.close()
        await ami2.close()

    resyncs = live.service.resyncs
    killed_at = time.time()
    live.pbx.kill()
    await eventually(lambda: not live.ami.connected, "the AMI client to notice the kill")
    await asyncio.to_thread(live.pbx.up)
    back_at = time.time()
    await eventually(
        lambda: (
            live.service.resyncs > resyncs
            and state_channels(live.service) == cli_channels(live.pbx)
        ),
        "the live state to match core show channels",
        timeout=5.0,
        show=lambda: (
            live.service.resyncs,
            live.service.resync_error,
            state_channels(live.service),
            cli_channels(live.pbx),
        ),
    )
    assert time.time() - back_at <= 5.0
    snap = live.service.snapshot()
    assert snap["calls"] == {} and snap["channels"] == 0
    for linkedid in lost:
        record = await row_for(live, linkedid)
        assert record.outcome == "lost"
        assert killed_at - 1.5 <= record.ended_at.timestamp() <= killed_at + 1.0
        assert record.entered_at <= record.ended_at
    phases = {lost[r]: (await live.repo.get(r)).extra["phase_at_loss"] for r in lost}  # type: ignore[union-attr]
    assert phases == {talking: "answered", waiting: "queued"}


async def test_announcement_snoop_legs_are_never_calls(live: Live, ari: Any) -> None:
    """Issue #8, defect 3: a position-announcement snoop (``<uniqueid>-annN``) is a helper
    leg: it shows in the channels, never as a call of its own, and leaves no call row."""
    await live.agents(ring=30, talk=3)  # rings on: the caller stays waiting
    caller = "+4930111209"
    linkedid = await live.place_call(caller, "Snoop Test", 30)
    inbound = f"{linkedid}-in"
    await eventually(lambda: live.call_of(caller), "the caller's call")
    snoop_id = f"{inbound}-ann1"
    await ari.snoop(inbound, whisper="out", spy="none", app_args="announce", snoop_id=snoop_id)
    await eventually(
        lambda: any(c.uniqueid == snoop_id for c in live.service.state.channels.by_id.values()),
        "the snoop channel in the live state",
    )
    assert snoop_id not in live.service.snapshot()["calls"]
    assert set(live.service.snapshot()["calls"]) == {linkedid}
    await ari.hangup(snoop_id)
    await ari.hangup(linkedid)
    record = await row_for(live, linkedid)
    assert record.caller == caller
    await asyncio.sleep(0.5)
    assert await live.repo.get(snoop_id) is None


async def test_positions_follow_the_queue_when_a_vip_joins_ahead(live: Live) -> None:
    """Issue #8, defect 4: a priority caller joins at position 1; the others move back, in
    the queue's list and in each call's own ``position``, and move up again when it leaves."""
    await live.agents(ring=60, talk=3)  # rings on: nobody is answered
    placed = {}
    for caller, prio in (("+4930111301", None), ("+4930111302", None), ("+4930111303", "10")):
        variables = {"QUEUE_PRIO": prio} if prio else {}
        scenario = Scenario(DID, caller, "Pos", steps=(Wait(40),), inbound_variables=variables)
        placed[caller] = await place_call(live.ari, live.config.pbx, scenario)

        def waiting(c: str = caller) -> bool:
            x = live.call_of(c)
            return x is not None and x["phase"] in ("queued", "ringing")

        await eventually(waiting, f"{caller} waiting")

    def positions() -> dict[str, int | None]:
        return {c: (live.call_of(c) or {}).get("position") for c in placed}

    def listed() -> dict[str, int]:
        callers = live.service.snapshot()["queues"][QUEUE]["callers"]
        return {w["caller_num"]: w["position"] for w in callers}

    expected = {"+4930111303": 1, "+4930111301": 2, "+4930111302": 3}
    await eventually(lambda: positions() == expected, "positions after the VIP", show=positions)
    assert listed() == expected
    await live.ari.hangup(placed["+4930111303"])
    after = {"+4930111301": 1, "+4930111302": 2}
    await eventually(
        lambda: {k: v for k, v in positions().items() if v} == after,
        "positions after the VIP left",
        show=positions,
    )
    assert listed() == after
