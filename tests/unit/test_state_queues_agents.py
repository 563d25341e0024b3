"""Queue waiting lists, counters and the per-agent view aggregated across queues."""

from __future__ import annotations

import pytest

from callcenter.state.effects import Effect, Publish
from callcenter.state.live import LiveState
from callcenter.state.queues import QueueState
from tests.fixtures.state.builder import Pbx, member_status


def run(state: LiveState, pbx: Pbx) -> list[Effect]:
    out: list[Effect] = []
    for msg in pbx.log:
        out.extend(state.apply(msg))
    pbx.log.clear()
    return out


def agent_events(effects: list[Effect]) -> list[dict[str, object]]:
    return [e.event for e in effects if isinstance(e, Publish) and e.topic == "agents"]


def test_positions_move_up_when_a_caller_leaves() -> None:
    state, pbx = LiveState(), Pbx()
    callers, roots = [], []
    for i in range(3):
        one, two = pbx.inbound("+493012345600", f"+49301112220{i}")
        pbx.to_queue(two, "q", position=i + 1, count=i + 1)
        callers.append(two)
        pbx.wait(10)
        roots.append(one)
    pbx.event(
        "QueueCallerAbandon",
        callers[0],
        Queue="q",
        Position="1",
        OriginalPosition="1",
        HoldTime="30",
    )
    pbx.event("QueueCallerLeave", callers[0], Queue="q", Position="1", Count="2")
    pbx.hangup(callers[0])
    pbx.hangup(roots[0])
    effects = run(state, pbx)
    view = state.snapshot(pbx.t)["queues"]["q"]
    assert [(w["position"], w["wait"]) for w in view["callers"]] == [
        (1, pytest.approx(20.0)),
        (2, pytest.approx(10.0)),
    ]
    assert view["longest_wait"] == pytest.approx(20.0)
    assert view["counters"]["joined"] == 3
    assert view["counters"]["abandoned"] == 1
    assert view["counters"]["answered"] == view["counters"]["timeout"] == 0
    left = [
        e.event
        for e in effects
        if isinstance(e, Publish) and e.event["type"] == "queue.caller_left"
    ]
    assert [x["reason"] for x in left] == ["unanswered"]  # the Leave after it is a no-op


def test_queue_params_and_pbx_counters_follow_events() -> None:
    state, pbx = LiveState(), Pbx()
    pbx.log.append(
        pbx.list_entry(
            "QueueParams",
            Queue="q",
            Max="10",
            Strategy="ringall",
            Calls="0",
            Holdtime="4",
            TalkTime="50",
            Completed="7",
            Abandoned="2",
            ServiceLevel="20",
            ServicelevelPerf="85.5",
            ServicelevelPerf2="70.1",
            Weight="3",
        )
    )
    _, two = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(two, "q")
    a1, _ = pbx.ring_agent(two, "q", "agent1", "Anna")
    pbx.answer(two, a1, queue="q", agent="agent1", member="Anna", hold=1)
    pbx.complete(two, a1, queue="q", agent="agent1", member="Anna", hold=1, talk=5)
    run(state, pbx)
    view = state.snapshot(pbx.t)["queues"]["q"]
    assert view["strategy"] == "ringall"
    assert view["max"] == 10 and view["weight"] == 3 and view["service_level"] == 20
    assert view["pbx"]["completed"] == 8  # as Asterisk will count it
    assert view["pbx"]["servicelevel_perf"] == pytest.approx(85.5)
    assert view["counters"]["answered"] == 1


def test_agent_status_pause_and_since() -> None:
    state, pbx = LiveState(), Pbx()
    member_status(pbx, "q1", "agent1", "Anna", event="QueueMemberAdded")
    member_status(pbx, "q2", "agent1", "Anna", event="QueueMemberAdded")
    effects = run(state, pbx)
    assert len(agent_events(effects)) == 2
    logged_in = pbx.t
    pbx.wait(30)
    # Same state again (e.g. another device-state echo): no event, "since" unchanged.
    member_status(pbx, "q1", "agent1", "Anna")
    assert agent_events(run(state, pbx)) == []
    [agent] = state.snapshot(pbx.t)["agents"].values()
    assert agent["status"] == "not_inuse"
    assert agent["since"] == logged_in
    assert agent["for"] == pytest.approx(30)
    pbx.wait(5)
    member_status(pbx, "q1", "agent1", "Anna", status=2, in_call=True)
    [event] = agent_events(run(state, pbx))
    assert event["type"] == "agent.status"
    assert event["in_call"] is True and event["status"] == "inuse"
    assert event["since"] == pbx.t
    # Paused in one queue only: still available in the other, so not paused overall.
    member_status(pbx, "q1", "agent1", "Anna", paused=True, reason="lunch")
    [event] = agent_events(run(state, pbx))
    assert event["paused"] is False
    member_status(
        pbx, "q2", "agent1", "Anna", paused=True, reason="lunch", event="QueueMemberPause"
    )
    [event] = agent_events(run(state, pbx))
    assert event["paused"] is True and event["paused_reason"] == "lunch"
    assert [q["queue"] for q in event["queues"]] == ["q1", "q2"]  # type: ignore[attr-defined]


def test_calls_taken_summed_across_queues_and_removal() -> None:
    state, pbx = LiveState(), Pbx()
    member_status(pbx, "q1", "agent1", "Anna", calls=3)
    member_status(pbx, "q2", "agent1", "Anna", calls=4)
    member_status(pbx, "q1", "agent2", "Bernd", status=5)
    run(state, pbx)
    agents = {a["name"]: a for a in state.snapshot(pbx.t)["agents"].values()}
    assert agents["Anna"]["calls_taken"] == 7
    assert agents["Bernd"]["status"] == "unavailable"
    pbx.event(
        "QueueMemberRemoved",
        None,
        Queue="q1",
        MemberName="Bernd",
        Interface="Local/agent2@agents/n",
    )
    [event] = agent_events(run(state, pbx))
    assert event["status"] == "logged_out"
    assert [a["name"] for a in state.snapshot(pbx.t)["agents"].values()] == ["Anna"]


def test_queue_averages_follow_app_queue_between_lists() -> None:
    """app_queue: first sample as is, then (3·old + new) / 4 (integer), talk after count."""
    queue = QueueState("q")
    queue.set_params({"Holdtime": "0", "TalkTime": "0", "Completed": "0", "Abandoned": "0"})
    queue.follow_average("holdtime", 8)
    assert queue.pbx["holdtime"] == 8
    queue.bump_pbx("completed")
    queue.follow_average("talktime", 40)
    assert queue.pbx["talktime"] == 40
    queue.follow_average("holdtime", 2)
    assert queue.pbx["holdtime"] == (3 * 8 + 2) // 4
    queue.bump_pbx("completed")
    queue.follow_average("talktime", 3)
    assert queue.pbx["talktime"] == (3 * 40 + 3) // 4
    # Without a QueueStatus list yet there is nothing to follow.
    empty = QueueState("q2")
    empty.follow_average("holdtime", 5)
    assert empty.pbx == {}
