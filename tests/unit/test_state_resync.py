"""Rebuild after reconnect: the state becomes what the PBX lists; vanished calls end as lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.state.effects import CallFinished, Effect, Publish
from callcenter.state.live import LiveState
from tests.fixtures.state.builder import Chan, Pbx, member_status

Q = "q-acme-de"


def run(state: LiveState, pbx: Pbx) -> list[Effect]:
    out: list[Effect] = []
    for msg in pbx.log:
        out.extend(state.apply(msg))
    pbx.log.clear()
    return out


def records(effects: list[Effect]) -> dict[str, CallFinished]:
    return {e.record.linkedid: e for e in effects if isinstance(e, CallFinished)}


def queue_params(pbx: Pbx, name: str, **over: str) -> None:
    values = {
        "Queue": name,
        "Max": "0",
        "Strategy": "rrmemory",
        "Calls": "1",
        "Holdtime": "3",
        "TalkTime": "40",
        "Completed": "5",
        "Abandoned": "1",
        "ServiceLevel": "20",
        "ServicelevelPerf": "80.0",
        "ServicelevelPerf2": "66.7",
        "Weight": "0",
    }
    values.update(over)
    pbx.log.append(pbx.list_entry("QueueParams", **values))


def queue_member(pbx: Pbx, queue: str, agent: str, name: str, **over: str) -> None:
    values = {
        "Queue": queue,
        "Name": name,
        "Location": f"Local/{agent}@agents/n",
        "StateInterface": f"Custom:{agent}",
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "2",
        "LastCall": "1795788000",
        "LastPause": "0",
        "LoginTime": "1795788900",
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Wrapuptime": "0",
    }
    values.update(over)
    pbx.log.append(pbx.list_entry("QueueMember", **values))


def queue_entry(pbx: Pbx, queue: str, chan: Chan, position: int, wait: int) -> None:
    pbx.log.append(
        pbx.list_entry(
            "QueueEntry",
            Queue=queue,
            Position=str(position),
            Channel=chan.name,
            Uniqueid=chan.uniqueid,
            CallerIDNum=chan.cid,
            CallerIDName=chan.cname,
            ConnectedLineNum="<unknown>",
            ConnectedLineName="<unknown>",
            Wait=str(wait),
            Priority="0",
        )
    )


def two_calls(state: LiveState, pbx: Pbx) -> tuple[tuple[Chan, Chan], tuple[Chan, Chan]]:
    first = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(first[1], Q)
    second = pbx.inbound("+493012345600", "+4930333444")
    pbx.to_queue(second[1], Q, position=2, count=2)
    _a1, _a2 = pbx.ring_agent(second[1], Q, "agent1", "Anna")
    pbx.wait(2)
    member_status(pbx, Q, "agent1", "Anna", status=2, in_call=True)
    run(state, pbx)
    return first, second


def test_asterisk_restart_finishes_every_call_as_lost_at_last_seen() -> None:
    state, pbx = LiveState(), Pbx()
    (one, two), _ = two_calls(state, pbx)
    pbx.wait(10)
    pbx.event("Newexten", two, Extension=Q, Application="Queue", AppData=Q)
    run(state, pbx)
    last_seen = pbx.t
    state.mark_disconnected(last_seen + 0.2)  # the socket closes a moment later
    # Asterisk was killed and came back empty.
    state.begin_resync(last_seen + 30)
    queue_params(pbx, Q, Calls="0", Completed="0", Abandoned="0")
    queue_member(pbx, Q, "agent1", "Anna", CallsTaken="0")
    effects = run(state, pbx) + state.end_resync(last_seen + 30.3)
    done = records(effects)
    assert len(done) == 2
    for finished in done.values():
        assert finished.record.outcome == "lost"
        assert finished.record.ended_at == datetime.fromtimestamp(last_seen + 0.2, tz=UTC)
    assert done[one.linkedid].record.extra["phase_at_loss"] == "queued"
    assert done[one.linkedid].record.queued_at is not None
    assert state.calls == {} and len(state.channels) == 0
    snap = state.snapshot(last_seen + 31)
    assert snap["queues"][Q]["callers"] == []
    assert snap["queues"][Q]["pbx"]["completed"] == 0
    assert [a["in_call"] for a in snap["agents"].values()] == [False]
    resynced = [
        e.topic for e in effects if isinstance(e, Publish) and e.event["type"] == "resynced"
    ]
    assert sorted(resynced) == ["agents", "calls", "queues"]


def test_reconnect_keeps_listed_calls_and_drops_vanished_ones() -> None:
    state, pbx = LiveState(), Pbx()
    (one, two), (three, _four) = two_calls(state, pbx)
    joined_first = state.queues[Q].waiting[two.uniqueid].joined_at
    state.mark_disconnected(pbx.t)
    pbx.wait(20)
    now = pbx.t
    state.begin_resync(now)
    # The PBX still has the first call (waiting 22 s), the second hung up meanwhile.
    for chan in (one, two):
        pbx.log.append(pbx.core_show_channel(chan, "00:00:22"))
    queue_params(pbx, Q)
    queue_member(pbx, Q, "agent1", "Anna")
    queue_entry(pbx, Q, two, position=1, wait=22)
    effects = run(state, pbx) + state.end_resync(now)
    done = records(effects)
    assert list(done) == [three.linkedid]
    assert done[three.linkedid].record.outcome == "lost"
    assert list(state.calls) == [one.linkedid]
    waiting = state.queues[Q].waiting
    assert list(waiting) == [two.uniqueid]
    assert waiting[two.uniqueid].joined_at == joined_first  # precise time kept
    snap = state.snapshot(now)
    assert snap["queues"][Q]["callers"][0]["wait"] == pytest.approx(now - joined_first)
    assert snap["agents"]["Local/agent1@agents/n"]["calls_taken"] == 2


def test_fresh_process_rebuilds_from_lists_alone() -> None:
    """App restarted while calls are up: nothing known, everything comes from the lists."""
    state, pbx = LiveState(), Pbx()
    now = pbx.t
    one = Chan(
        "Local/+4930@from-trunk-0000000a;1", "1795788000.1", "1795788000.1", 6, cid="+4930111222"
    )
    two = Chan(
        "Local/+4930@from-trunk-0000000a;2",
        "1795788000.2",
        "1795788000.1",
        6,
        cid="+4930111222",
        context="cc-queue",
        exten=Q,
    )
    state.begin_resync(now)
    state.apply(pbx.core_show_channel(one, "00:01:05"))
    msg = pbx.core_show_channel(two, "00:01:05")
    # channelvars = CC_TENANT,... in manager.conf puts the variables on every listing.
    msg = type(msg)(
        (
            *msg.headers,
            ("ChanVariable", "CC_TENANT=acme"),
            ("ChanVariable", "__CC_DID=+493012345600"),
        )
    )
    state.apply(msg)
    queue_params(pbx, Q)
    queue_member(
        pbx, Q, "agent1", "Anna", Paused="1", PausedReason="lunch", LastPause=str(int(now - 600))
    )
    queue_entry(pbx, Q, two, position=1, wait=40)
    effects = run(state, pbx) + state.end_resync(now)
    assert records(effects) == {}
    snap = state.snapshot(now + 5)
    [call] = snap["calls"].values()
    assert call["entered_at"] == pytest.approx(now - 65)
    assert call["queued_at"] == pytest.approx(now - 40)
    assert call["phase"] == "queued"
    assert call["wait"] == pytest.approx(45)
    assert call["tenant"] == "acme"
    assert call["did"] == "+493012345600"
    assert call["caller"] == "+4930111222"
    [agent] = snap["agents"].values()
    assert agent["paused"] is True
    assert agent["paused_reason"] == "lunch"
    assert agent["since"] == pytest.approx(now - 600)


def test_hangup_racing_the_listing_does_not_resurrect_the_channel() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(two, Q)
    run(state, pbx)
    state.begin_resync(pbx.t)
    # CoreShowChannels listed both, but their Hangups arrive before we apply the list.
    listed = [pbx.core_show_channel(c, "00:00:05") for c in (one, two)]
    pbx.event("QueueCallerAbandon", two, Queue=Q, Position="1", OriginalPosition="1", HoldTime="5")
    pbx.event("QueueCallerLeave", two, Queue=Q, Position="1", Count="0")
    pbx.hangup(two)
    pbx.hangup(one)
    effects = run(state, pbx)
    for msg in listed:
        effects += state.apply(msg)
    queue_params(pbx, Q)
    queue_entry(pbx, Q, two, position=1, wait=5)
    effects += run(state, pbx) + state.end_resync(pbx.t)
    [finished] = records(effects).values()
    assert finished.record.outcome == "abandoned"
    assert state.calls == {}
    assert state.queues[Q].waiting == {}


def test_call_started_during_resync_survives_it() -> None:
    state, pbx = LiveState(), Pbx()
    state.begin_resync(pbx.t)
    one, two = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(two, Q)
    queue_params(pbx, Q)  # listed before the caller joined
    effects = run(state, pbx) + state.end_resync(pbx.t)
    assert records(effects) == {}
    assert list(state.calls) == [one.linkedid]
    assert list(state.queues[Q].waiting) == [two.uniqueid]


def test_abort_resync_keeps_state() -> None:
    state, pbx = LiveState(), Pbx()
    two_calls(state, pbx)
    state.begin_resync(pbx.t)
    state.abort_resync()
    assert state.end_resync(pbx.t) == []
    assert len(state.calls) == 2


def test_queues_and_members_gone_from_the_pbx_are_dropped() -> None:
    state, pbx = LiveState(), Pbx()
    member_status(pbx, "q-old", "agent9", "Old")
    member_status(pbx, Q, "agent1", "Anna")
    run(state, pbx)
    state.begin_resync(pbx.t)
    queue_params(pbx, Q)
    queue_member(pbx, Q, "agent1", "Anna")
    run(state, pbx)
    state.end_resync(pbx.t)
    assert list(state.queues) == [Q]
    assert list(state.snapshot(pbx.t)["agents"]) == ["Local/agent1@agents/n"]


def test_call_bridged_in_queue_when_rebuilt_counts_as_answered_with_unknown_times() -> None:
    state, pbx = LiveState(), Pbx()
    now = pbx.t
    caller = Chan(
        "Local/+4930@from-trunk-0000000b;2",
        "1795788000.2",
        "1795788000.1",
        6,
        cid="+4930111222",
        context="cc-queue",
        exten=Q,
    )
    root = Chan(
        "Local/+4930@from-trunk-0000000b;1", "1795788000.1", "1795788000.1", 6, cid="+4930111222"
    )
    state.begin_resync(now)
    state.apply(pbx.core_show_channel(root, "00:02:00"))
    state.apply(pbx.core_show_channel(caller, "00:02:00", bridge="b-9"))
    state.end_resync(now)
    assert state.snapshot(now)["calls"][root.linkedid]["phase"] == "answered"
    pbx.wait(30)
    pbx.hangup(caller)
    pbx.hangup(root)
    [record] = [e.record for e in run(state, pbx) if isinstance(e, CallFinished)]
    assert record.outcome == "answered"
    assert record.wait_seconds is None and record.talk_seconds is None
    assert record.extra["answer_time_unknown"] is True


def test_a_caller_held_by_the_console_is_on_hold_after_a_resync() -> None:
    """Rebuilt after a reconnect: a caller listed in cc-hold (not bridged) shows on hold."""
    state, pbx = LiveState(region="DE"), Pbx()
    caller = Chan("PJSIP/trunk-0001", "1795788900.1", "1795788900.1", state=6)
    caller.context, caller.exten = "cc-hold", "s"
    state.begin_resync(pbx.t)
    state.apply(pbx.core_show_channel(caller, "00:00:30"))
    state.end_resync(pbx.t)
    view = state.calls["1795788900.1"].view(pbx.t, "DE")
    assert (view["state"], view["on_hold"]) == ("on_hold", True)


def test_parking_is_rebuilt_from_the_parked_calls_list() -> None:
    state, pbx = LiveState(region="DE"), Pbx()
    caller = Chan("PJSIP/trunk-0002", "1795788900.2", "1795788900.2", state=6)

    def resync(*parked: str, listed: bool = True) -> None:
        state.begin_resync(pbx.t)
        state.apply(pbx.core_show_channel(caller, "00:00:30"))
        for space in parked:
            state.apply(
                pbx.list_entry(
                    "ParkedCall",
                    ParkeeUniqueid=caller.uniqueid,
                    ParkingSpace=space,
                    Parkinglot="default",
                )
            )
        state.end_resync(pbx.t, parked_listed=listed)

    resync("701")  # parked while we were away
    assert state.calls[caller.linkedid].view(pbx.t, "DE")["parked"] == {
        "space": "701",
        "lot": "default",
    }
    resync(listed=False)  # ParkedCalls refused: what we knew stays
    assert state.calls[caller.linkedid].parked is not None
    resync()  # listed, and not parked any more
    assert state.calls[caller.linkedid].view(pbx.t, "DE")["state"] != "parked"
