"""Call lifecycles through LiveState: one finished record per linkedid with the right outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.pbx.ami.message import Message
from callcenter.state.effects import CallFinished, Effect, Publish
from callcenter.state.live import LiveState
from callcenter.state.records import CallRecord
from tests.fixtures.state.builder import Chan, Pbx

Q = "q-acme-de"
DID = "+493012345600"


def run(state: LiveState, pbx: Pbx) -> list[Effect]:
    """Feed every event the scripted PBX produced so far (and forget them)."""
    out: list[Effect] = []
    for msg in pbx.log:
        out.extend(state.apply(msg))
    pbx.log.clear()
    return out


def finished(effects: list[Effect]) -> list[CallRecord]:
    return [e.record for e in effects if isinstance(e, CallFinished)]


def published(effects: list[Effect], kind: str) -> list[dict[str, object]]:
    return [e.event for e in effects if isinstance(e, Publish) and e.event["type"] == kind]


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def answered_call(pbx: Pbx, state: LiveState) -> tuple[list[Effect], dict[str, float]]:
    """Caller waits 7 s, Anna answers, talks 42 s, caller hangs up."""
    times: dict[str, float] = {"entered": pbx.t}
    one, two = pbx.inbound(DID, "030 555 1234", "Jürgen Müller")
    pbx.event("VarSet", two, Variable="CC_LANGUAGE", Value="de")
    pbx.wait(3.0)
    times["queued"] = pbx.t
    pbx.to_queue(two, Q)
    effects = run(state, pbx)
    pbx.wait(6.5)
    a1, a2 = pbx.ring_agent(two, Q, "agent1", "Anna")
    pbx.wait(0.5)
    times["answered"] = pbx.t
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=7)
    effects += run(state, pbx)
    pbx.wait(42.0)
    times["completed"] = pbx.t
    pbx.complete(two, a1, queue=Q, agent="agent1", member="Anna", hold=7, talk=42)
    pbx.hangup(two)
    pbx.hangup(one)
    pbx.wait(0.01)
    pbx.hangup(a1)
    pbx.hangup(a2)
    times["ended"] = pbx.t
    effects += run(state, pbx)
    return effects, times


def test_answered_call_becomes_one_record_with_consistent_times() -> None:
    state, pbx = LiveState(region="DE"), Pbx()
    effects, times = answered_call(pbx, state)
    [record] = finished(effects)
    assert record.outcome == "answered"
    assert record.caller == "+49305551234"
    assert record.caller_raw == "030 555 1234"
    assert record.caller_name == "Jürgen Müller"
    assert record.did == DID
    assert record.tenant == "acme"
    assert record.language == "de"
    assert record.queue == Q
    assert record.agent == "Anna"
    assert record.entered_at == at(times["entered"])
    assert record.queued_at == at(times["queued"])
    assert record.answered_at == at(times["answered"])
    assert record.ended_at == at(times["ended"])
    assert record.entered_at <= record.queued_at <= record.answered_at <= record.ended_at
    assert record.wait_seconds == pytest.approx(7.0)
    assert record.talk_seconds == pytest.approx(42.0)
    # The PBX's own integer figures are kept for reconciliation.
    assert record.extra["pbx_hold_time"] == 7
    assert record.extra["pbx_talk_time"] == 42
    assert "pbx_mismatch" not in record.extra
    assert record.hangup_cause == "Normal Clearing"
    assert state.calls == {}
    assert len(state.channels) == 0
    assert [e["type"] for e in published(effects, "call.ended")] == ["call.ended"]


def test_answered_call_publishes_lifecycle_events_in_order() -> None:
    state, pbx = LiveState(), Pbx()
    effects, _ = answered_call(pbx, state)
    call_types = [e.event["type"] for e in effects if isinstance(e, Publish) and e.topic == "calls"]
    assert call_types[0] == "call.started"
    assert call_types.index("call.queued") < call_types.index("call.answered")
    assert call_types[-1] == "call.ended"
    [queued] = published(effects, "call.queued")
    assert queued["caller"] == "+49305551234"
    assert queued["tenant"] == "acme"
    assert queued["language"] == "de"
    [joined] = published(effects, "queue.caller_joined")
    assert joined == {
        "type": "queue.caller_joined",
        "queue": Q,
        "linkedid": queued["linkedid"],
        "position": 1,
        "count": 1,
        "caller": "+49305551234",
        "tenant": "acme",
    }


def test_live_views_while_waiting_and_talking() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+441632960961")
    pbx.to_queue(two, Q)
    run(state, pbx)
    joined = pbx.t
    snap = state.snapshot(joined + 12.5)
    [call] = snap["calls"].values()
    assert call["phase"] == "queued"
    assert call["caller"] == "+441632960961"
    assert call["wait"] == pytest.approx(12.5)
    [queue] = snap["queues"].values()
    assert queue["name"] == Q
    assert [(w["position"], w["wait"]) for w in queue["callers"]] == [(1, 12.5)]
    pbx.wait(12.5)
    a1, _ = pbx.ring_agent(two, Q, "agent1", "Anna")
    run(state, pbx)
    assert state.snapshot(pbx.t)["calls"][one.linkedid]["phase"] == "ringing"
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=12)
    run(state, pbx)
    snap = state.snapshot(pbx.t + 30)
    call = snap["calls"][one.linkedid]
    assert call["phase"] == "answered"
    assert call["agent"] == "Anna"
    assert call["wait"] == pytest.approx(12.5)
    assert snap["queues"][Q]["callers"] == []


def test_abandoned_call() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4917612345678")
    pbx.to_queue(two, Q)
    queued = pbx.t
    pbx.wait(25.0)
    pbx.event("QueueCallerAbandon", two, Queue=Q, Position="1", OriginalPosition="1", HoldTime="25")
    pbx.event("QueueCallerLeave", two, Queue=Q, Position="1", Count="0")
    pbx.hangup(two)
    pbx.hangup(one)
    effects = run(state, pbx)
    [record] = finished(effects)
    assert record.outcome == "abandoned"
    assert record.queued_at == at(queued)
    assert record.answered_at is None
    assert record.wait_seconds == pytest.approx(25.0)
    assert record.talk_seconds is None
    assert record.extra["pbx_hold_time"] == 25
    assert state.queues[Q].waiting == {}
    assert state.queues[Q].counters["abandoned"] == 1
    [ended] = published(effects, "call.ended")
    assert ended["outcome"] == "abandoned" and ended["wait"] == pytest.approx(25.0)


def test_queue_timeout_from_queuestatus_variable() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.to_queue(two, Q)
    pbx.wait(300.0)
    # What Asterisk 22 sends on timeout (recorded): Abandon, Leave, then QUEUESTATUS.
    pbx.event(
        "QueueCallerAbandon", two, Queue=Q, Position="1", OriginalPosition="1", HoldTime="300"
    )
    pbx.event("QueueCallerLeave", two, Queue=Q, Position="1", Count="0")
    pbx.event("VarSet", two, Variable="QUEUESTATUS", Value="TIMEOUT")
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.outcome == "timeout"
    assert record.wait_seconds == pytest.approx(300.0)
    assert record.extra["queue_status"] == "TIMEOUT"


@pytest.mark.parametrize(
    "status", ["JOINEMPTY", "FULL", "JOINUNAVAIL", "LEAVEEMPTY", "LEAVEUNAVAIL"]
)
def test_blocked_by_queue_rules(status: str) -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    two.context, two.exten = "cc-queue", Q
    # Refused at the door: no QueueCallerJoin, only the Queue() app and QUEUESTATUS.
    pbx.event("Newexten", two, Extension=Q, Application="Queue", AppData=f"{Q},,,,300")
    pbx.event("VarSet", two, Variable="QUEUESTATUS", Value=status)
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.outcome == "blocked"
    assert record.queue == Q
    assert record.queued_at is None


def test_diverted_to_voicemail_after_timeout() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.to_queue(two, Q)
    pbx.wait(60.0)
    pbx.event("QueueCallerLeave", two, Queue=Q, Position="1", Count="0")
    pbx.event("VarSet", two, Variable="QUEUESTATUS", Value="TIMEOUT")
    pbx.event("VarSet", two, Variable="CC_OUTCOME", Value="voicemail")
    pbx.wait(30.0)
    pbx.hangup(two)
    pbx.hangup(one)
    effects = run(state, pbx)
    [record] = finished(effects)
    assert record.outcome == "diverted"
    assert record.extra["cc_outcome"] == "voicemail"
    assert record.wait_seconds == pytest.approx(60.0)  # until leaving the queue, not the end
    assert published(effects, "call.updated")[-1]["diverted_to"] == "voicemail"


def test_callback_offer_taken_in_ivr_is_diverted_without_queue() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.event("VarSet", two, Variable="CC_OUTCOME", Value="callback")
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.outcome == "diverted"


def test_ivr_hangup_never_reaching_a_queue() -> None:
    state, pbx = LiveState(), Pbx()
    entered = pbx.t
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.event("VarSet", two, Variable="CC_LANGUAGE", Value="en")
    pbx.wait(9.0)
    pbx.hangup(one)
    pbx.hangup(two)
    [record] = finished(run(state, pbx))
    assert record.outcome == "ivr"
    assert record.queue is None and record.queued_at is None and record.wait_seconds is None
    assert (record.ended_at - record.entered_at).total_seconds() == pytest.approx(9.0)
    assert record.entered_at == at(entered)


@pytest.mark.parametrize("raw", ["anonymous", "<unknown>", "", "Restricted", "12", "abc"])
def test_anonymous_or_malformed_caller_keeps_raw_value(raw: str) -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, raw)
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.caller is None
    assert record.caller_raw == raw


def test_blind_transfer_keeps_one_call_until_last_channel() -> None:
    """Agent hands the caller to a staff member: new channels join the same linkedid."""
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.to_queue(two, Q)
    pbx.wait(5)
    a1, a2 = pbx.ring_agent(two, Q, "agent1", "Anna")
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=5)
    pbx.wait(20)
    staff = pbx.new_channel("PJSIP/staff-0000001", linkedid=two.linkedid, context="staff")
    pbx.event("BlindTransfer", a1)
    pbx.complete(
        two, a1, queue=Q, agent="agent1", member="Anna", hold=5, talk=20, reason="transfer"
    )
    pbx.hangup(a2)
    pbx.hangup(a1)
    effects = run(state, pbx)
    assert finished(effects) == []
    assert state.snapshot(pbx.t)["calls"][one.linkedid]["channels"] == 3  # one, two, staff
    pbx.wait(60)
    pbx.hangup(staff)
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.outcome == "answered"
    assert record.talk_seconds == pytest.approx(20.0)  # the agent's part, not the staff's
    assert record.extra["complete_reason"] == "transfer"


def test_attended_transfer_merges_the_consultation_call() -> None:
    """Bridging propagates the oldest linkedid; the consultation call is merged, not stored."""
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.to_queue(two, Q)
    a1, a2 = pbx.ring_agent(two, Q, "agent1", "Anna")
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=0)
    pbx.wait(10)
    consult = pbx.new_channel("PJSIP/anna-00000002", context="cc-phones")
    staff = pbx.new_channel("PJSIP/staff-00000003", linkedid=consult.uniqueid)
    effects = run(state, pbx)
    assert len(state.calls) == 2
    pbx.wait(15)
    staff.linkedid = two.linkedid
    consult.linkedid = two.linkedid
    pbx.event("BridgeEnter", staff, BridgeUniqueid="b-2")
    pbx.event("BridgeEnter", consult, BridgeUniqueid="b-2")
    effects = run(state, pbx)
    assert list(state.calls) == [two.linkedid]
    assert finished(effects) == []
    for chan in (consult, a2, a1, two, one, staff):
        pbx.hangup(chan)
    [record] = finished(run(state, pbx))
    assert record.linkedid == one.uniqueid
    assert record.extra["merged"] == [consult.uniqueid]


def test_hold_time_is_accumulated() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.event("Hold", two, MusicClass="default")
    pbx.wait(4)
    pbx.event("Unhold", two)
    pbx.event("Hold", two, MusicClass="default")
    pbx.wait(2)
    pbx.hangup(two)  # hung up while on hold
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert record.extra["hold_seconds"] == pytest.approx(6.0)


def test_same_hangup_twice_finishes_once() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    run(state, pbx)
    first = pbx.hangup(two)
    last = pbx.hangup(one)
    effects = state.apply(first) + state.apply(last)
    assert len(finished(effects)) == 1
    assert state.apply(last) == []
    assert state.apply(first) == []
    # A late event for a hung-up channel does not resurrect it.
    assert state.apply(pbx.event("VarSet", one, Variable="CC_TENANT", Value="x")) == []
    assert state.calls == {} and len(state.channels) == 0


def test_duplicate_newchannel_is_ignored() -> None:
    state, pbx = LiveState(), Pbx()
    pbx.new_channel("PJSIP/trunk-00000001")
    [msg] = pbx.log
    assert len(state.apply(msg)) == 1
    assert state.apply(msg) == []
    assert len(state.calls) == 1


def test_events_for_channels_seen_before_we_connected_create_them() -> None:
    state, pbx = LiveState(), Pbx()
    chan = Chan("PJSIP/trunk-00000009", "1795780000.9", "1795780000.9", state=6, cid="+4930999")
    pbx.event("VarSet", chan, Variable="CC_TENANT", Value="acme")
    pbx.hangup(chan)
    [record] = finished(run(state, pbx))
    assert record.tenant == "acme"
    assert record.caller == "+4930999"


def test_unknown_and_non_event_messages_are_ignored() -> None:
    state = LiveState()
    assert state.apply(Message((("Event", "RTCPSent"), ("Channel", "x")))) == []
    assert state.apply(Message((("Response", "Success"), ("ActionID", "1")))) == []
    assert state.apply(Message(())) == []
    assert state.apply(Message((("Event", "VarSet"), ("Variable", "FOO")))) == []


def test_global_varset_without_channel_is_ignored() -> None:
    state = LiveState()
    msg = Message(
        (("Event", "VarSet"), ("Channel", "none"), ("Variable", "CC_TENANT"), ("Value", "acme"))
    )
    assert state.apply(msg) == []
    assert state.calls == {}


@pytest.mark.parametrize("junk", ["nan", "inf", "-inf", "1e309", "x", "", "-5"])
def test_junk_timestamps_fall_back_to_the_last_good_time(junk: str) -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    run(state, pbx)
    good = pbx.t
    bad = [(k, junk if k == "Timestamp" else v) for k, v in pbx.hangup(two).headers]
    pbx.log.clear()
    state.apply(Message(tuple(bad)))
    bad = [(k, junk if k == "Timestamp" else v) for k, v in pbx.hangup(one).headers]
    [record] = finished(state.apply(Message(tuple(bad))))
    assert record.ended_at == at(good)


def test_disagreement_with_the_pbx_figures_is_flagged() -> None:
    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound(DID, "+4930111222")
    pbx.to_queue(two, Q)
    pbx.wait(10)
    a1, a2 = pbx.ring_agent(two, Q, "agent1", "Anna")
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=3)  # PBX says 3 s
    pbx.wait(20)
    pbx.complete(two, a1, queue=Q, agent="agent1", member="Anna", hold=3, talk=21)
    for chan in (a2, a1, two, one):
        pbx.hangup(chan)
    [record] = finished(run(state, pbx))
    assert record.wait_seconds == pytest.approx(10.0)
    assert record.extra["pbx_mismatch"] == ["wait"]


def test_console_pickup_is_an_answer_and_a_requeue_waits_again() -> None:
    """cc-pickup sets CC_ANSWERED_BY on the receptionist's leg (no AgentConnect then);
    a call transferred back into a queue shows as queued until answered again."""
    pbx, state = Pbx(), LiveState()
    one, two = pbx.inbound("+4930123456", "+4930999888")
    pbx.to_queue(two, "q-a")
    pbx.wait(4)
    pbx.event("QueueCallerLeave", two, Queue="q-a", Position="1", Count="0")
    agent = pbx.new_channel("Local/agent1@agents-000000aa;1", linkedid=two.linkedid)
    pbx.wait(1)
    pbx.event("VarSet", agent, Variable="CC_ANSWERED_BY", Value="Local/agent1@agents/n")
    effects = run(state, pbx)
    call = state.calls[two.linkedid]
    assert call.phase == "answered" and call.agent == "Local/agent1@agents/n"
    assert [e["type"] for e in published(effects, "call.answered")] == ["call.answered"]

    pbx.log.clear()
    pbx.to_queue(two, "q-b")
    run(state, pbx)
    assert state.calls[two.linkedid].phase == "queued"
    pbx.log.clear()
    agent2 = pbx.new_channel("Local/agent2@agents-000000ab;1", linkedid=two.linkedid)
    pbx.event("VarSet", agent2, Variable="CC_ANSWERED_BY", Value="Local/agent2@agents/n")
    for chan in (agent, agent2, two, one):
        pbx.hangup(chan)
    [record] = finished(run(state, pbx))
    assert record.outcome == "answered"
    assert record.wait_seconds == pytest.approx(5.0)  # first answer: 4 s queued + 1 s ringing
    assert record.agent == "Local/agent2@agents/n"  # who had it last


def test_console_hold_park_and_failed_transfer_show_in_the_view() -> None:
    """Issue #8 defects 7 and 8: the view says on hold (caller in cc-hold), parked (res_parking
    events) and why a transfer failed; hold time counts for the row."""
    state, pbx = LiveState(region="DE"), Pbx()
    _one, two = pbx.inbound(DID, "030 555 1234", "Jürgen Müller")
    pbx.to_queue(two, Q)
    a1, _a2 = pbx.ring_agent(two, Q, "agent1", "Anna")
    pbx.answer(two, a1, queue=Q, agent="agent1", member="Anna", hold=1)
    run(state, pbx)
    lid = two.linkedid

    def view() -> dict[str, object]:
        return state.calls[lid].view(pbx.t, "DE")

    assert (view()["state"], view()["agent"]) == ("answered", "Anna")
    pbx.event("BridgeLeave", two, BridgeUniqueid="b1")
    two.context, two.exten = "cc-hold", "s"
    pbx.event("Newexten", two, Application="MusicOnHold", AppData="default")
    effects = run(state, pbx)
    assert published(effects, "call.hold") == [
        {
            "type": "call.hold",
            "linkedid": lid,
            "caller": "+49305551234",
            "tenant": "acme",
            "queue": Q,
            "held": True,
        }
    ]
    assert (view()["state"], view()["on_hold"]) == ("on_hold", True)
    pbx.wait(5.0)
    pbx.event("BridgeEnter", two, BridgeUniqueid="b2")  # retrieved: AMI Bridge
    run(state, pbx)
    assert (view()["state"], view()["on_hold"]) == ("answered", False)
    assert state.calls[lid].hold_seconds == pytest.approx(5.0)

    pbx.event(
        "ParkedCall", None, ParkeeUniqueid=two.uniqueid, ParkingSpace="701", Parkinglot="default"
    )
    effects = run(state, pbx)
    assert published(effects, "call.parked")[0]["space"] == "701"
    assert view()["state"] == "parked" and view()["parked"] == {"space": "701", "lot": "default"}
    pbx.event("UnParkedCall", None, ParkeeUniqueid=two.uniqueid, ParkingSpace="701")
    run(state, pbx)
    assert view()["state"] == "answered" and view()["parked"] is None

    pbx.event("VarSet", two, Variable="CC_TRANSFER_FAILED", Value="+4915199999999 BUSY")
    [failed] = published(run(state, pbx), "call.transfer_failed")
    assert (failed["target"], failed["status"], failed["reason"]) == (
        "+4915199999999",
        "BUSY",
        "the number is busy",
    )
    assert view()["transfer_failed"] == {
        "target": "+4915199999999",
        "status": "BUSY",
        "reason": "the number is busy",
    }
    pbx.event("VarSet", two, Variable="CC_TRANSFER_FAILED", Value="")  # the next attempt
    run(state, pbx)
    assert view()["transfer_failed"] is None


def test_a_console_pickup_names_the_position_and_a_requeue_clears_it() -> None:
    state, pbx = LiveState(region="DE"), Pbx()
    _one, two = pbx.inbound(DID, "030 555 1234", "Jürgen Müller")
    pbx.to_queue(two, Q)
    run(state, pbx)
    lid = two.linkedid
    pbx.event("VarSet", two, Variable="CC_PICKUP_AGENT", Value="Anna")
    agent = pbx.new_channel("Local/agent1@agents-00000009;1", linkedid=lid)
    pbx.event("VarSet", agent, Variable="CC_ANSWERED_BY", Value="Local/agent1@agents/n")
    run(state, pbx)
    view = state.calls[lid].view(pbx.t, "DE")
    assert (view["agent"], view["agent_interface"]) == ("Anna", "Local/agent1@agents/n")
    pbx.to_queue(two, "q-acme-en")  # transferred back to a queue
    run(state, pbx)
    view = state.calls[lid].view(pbx.t, "DE")
    assert (view["phase"], view["agent"], view["agent_interface"]) == ("queued", None, None)


def test_a_waiting_caller_rejected_by_the_receptionist_is_diverted() -> None:
    state, pbx = LiveState(region="DE"), Pbx()
    one, two = pbx.inbound(DID, "030 555 1234", "Jürgen Müller")
    pbx.to_queue(two, Q)
    pbx.event("VarSet", two, Variable="CC_OUTCOME", Value="rejected")
    pbx.event("QueueCallerAbandon", two, Queue=Q, Position="1", OriginalPosition="1", HoldTime="3")
    pbx.hangup(two)
    pbx.hangup(one)
    [record] = finished(run(state, pbx))
    assert (record.outcome, record.extra["cc_outcome"]) == ("diverted", "rejected")
