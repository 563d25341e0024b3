"""Queue stints on the call row (extra["stints"]): one entry per queue a call waited in."""

from __future__ import annotations

from callcenter.state.live import LiveState
from stats.definitions import legs_of
from tests.fixtures.state.builder import Pbx
from tests.unit.test_state_calls import DID, finished, run


def test_overflow_timeout_then_answer_records_both_stints() -> None:
    pbx, state = Pbx(), LiveState(region="DE")
    one, two = pbx.inbound(DID, "030 555 1234", "Jürgen Müller")
    pbx.wait(2.0)
    pbx.to_queue(two, "q-first")
    pbx.wait(10.0)
    # Asterisk 22 on a queue timeout: Abandon, Leave, then QUEUESTATUS (recorded order).
    pbx.event(
        "QueueCallerAbandon",
        two,
        Queue="q-first",
        Position="1",
        OriginalPosition="1",
        HoldTime="10",
    )
    pbx.event("QueueCallerLeave", two, Queue="q-first", Position="1", Count="0")
    pbx.event("VarSet", two, Variable="QUEUESTATUS", Value="TIMEOUT")
    pbx.wait(0.5)
    pbx.to_queue(two, "q-second")
    pbx.wait(4.0)
    a1, a2 = pbx.ring_agent(two, "q-second", "agent1", "Anna")
    pbx.answer(two, a1, queue="q-second", agent="agent1", member="Anna", hold=4)
    pbx.wait(30.0)
    pbx.complete(two, a1, queue="q-second", agent="agent1", member="Anna", hold=4, talk=30)
    for chan in (two, one, a1, a2):
        pbx.hangup(chan)
    [record] = finished(run(state, pbx))
    assert record.outcome == "answered" and record.queue == "q-second"
    stints = record.extra["stints"]
    assert [(s["queue"], s["uniqueid"]) for s in stints] == [
        ("q-first", two.uniqueid),
        ("q-second", two.uniqueid),
    ]
    assert stints[0]["wait"] == 10.0 and stints[0]["status"] == "TIMEOUT"
    assert stints[1]["wait"] == 4.0 and stints[1]["answered"] is True
    assert [(leg.queue, leg.outcome) for leg in legs_of(record)] == [
        ("q-first", "timeout"),
        ("q-second", "answered"),
    ]


def test_abandoned_stint_keeps_its_wait() -> None:
    pbx, state = Pbx(), LiveState(region="DE")
    one, two = pbx.inbound(DID, "030 555 1234", "Ida")
    pbx.to_queue(two, "q-first")
    pbx.wait(6.0)
    pbx.event(
        "QueueCallerAbandon", two, Queue="q-first", Position="1", OriginalPosition="1", HoldTime="6"
    )
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.outcome == "abandoned"
    [stint] = record.extra["stints"]
    assert stint["wait"] == 6.0 and stint["abandoned"] is True and "status" not in stint
    assert [leg.outcome for leg in legs_of(record)] == ["abandoned"]
