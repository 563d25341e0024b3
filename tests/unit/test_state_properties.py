"""Property tests: whatever the PBX sends, in whatever order, the live state stays consistent.

Random sequences over a small set of channels and linkedids, with missing headers, junk
values, timestamps going backwards and resyncs in between, must never raise, must keep every
channel inside exactly the call of its linkedid, must finish a linkedid at most once per
lifetime, and must only produce records the call repository accepts.
"""

from __future__ import annotations

from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.db.calls import _check
from callcenter.pbx.ami.message import Message
from callcenter.state.effects import CallFinished
from callcenter.state.live import LiveState
from tests.fixtures.state.builder import Pbx

UIDS = ["100.1", "100.2", "100.3", "100.4", "100.5"]
LINKEDIDS = ["100.1", "100.3"]
EVENTS = [
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "Newexten",
    "VarSet",
    "Rename",
    "BridgeEnter",
    "BridgeLeave",
    "Hold",
    "Unhold",
    "Hangup",
    "CoreShowChannel",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    "QueueMemberStatus",
    "QueueMemberRemoved",
    "QueueMember",
    "QueueParams",
    "QueueEntry",
    "DialBegin",
    "UnknownEvent",
]
VALUES = st.sampled_from(
    [
        "",
        "1",
        "6",
        "x",
        "-3",
        "1e309",
        "nan",
        "TIMEOUT",
        "JOINEMPTY",
        "voicemail",
        "q1",
        "q2",
        "00:01:02",
        "+4930111222",
        "anonymous",
        "Local/a@b/n",
        "ü€",
    ]
)
OPTIONAL = {
    "ChannelState": VALUES,
    "CallerIDNum": VALUES,
    "Queue": VALUES,
    "Position": VALUES,
    "Variable": st.sampled_from(["CC_TENANT", "__CC_DID", "QUEUESTATUS", "CC_OUTCOME", "X"]),
    "Value": VALUES,
    "Interface": VALUES,
    "Location": VALUES,
    "MemberName": VALUES,
    "Status": VALUES,
    "Paused": VALUES,
    "InCall": VALUES,
    "Wait": VALUES,
    "Duration": VALUES,
    "BridgeUniqueid": VALUES,
    "BridgeId": VALUES,
    "HoldTime": VALUES,
    "TalkTime": VALUES,
    "DestUniqueid": st.sampled_from(UIDS),
    "Application": VALUES,
}


@st.composite
def event(draw: st.DrawFn) -> Message:
    name = draw(st.sampled_from(EVENTS))
    headers = [("Event", name)]
    if draw(st.integers(0, 4)):
        headers.append(("Timestamp", str(draw(st.floats(1000.0, 1100.0)))))
    elif draw(st.booleans()):
        headers.append(("Timestamp", draw(VALUES)))  # junk: "", "x", "nan", "1e309" …
    if draw(st.integers(0, 9)):
        headers.append(("Uniqueid", draw(st.sampled_from(UIDS))))
    if draw(st.integers(0, 9)):
        headers.append(("Linkedid", draw(st.sampled_from(LINKEDIDS))))
    for key in draw(st.lists(st.sampled_from(sorted(OPTIONAL)), max_size=6, unique=True)):
        headers.append((key, draw(OPTIONAL[key])))
    return Message(tuple(headers))


step = st.one_of(event(), st.sampled_from(["begin", "end", "disconnect", "abort"]))


def consistent(state: LiveState) -> None:
    for uid, channel in state.channels.by_id.items():
        call = state.calls[channel.linkedid]
        assert uid in call.channels
    for linkedid, call in state.calls.items():
        assert call.linkedid == linkedid
        assert call.channels, "a call without channels must have been finished"
        for uid in call.channels:
            assert state.channels.by_id[uid].linkedid == linkedid
    json_ready = state.snapshot(1050.0)
    assert isinstance(json_ready["calls"], dict)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_any_event_sequence_keeps_the_state_consistent(steps: list[Message | str]) -> None:
    state = LiveState()
    finished: list[str] = []  # for hypothesis' failure report
    for item in steps:
        if item == "begin":
            state.begin_resync(1050.0)
            effects = []
        elif item == "end":
            effects = state.end_resync(1051.0)
        elif item == "disconnect":
            state.mark_disconnected(1049.0)
            effects = []
        elif item == "abort":
            state.abort_resync()
            effects = []
        else:
            assert isinstance(item, Message)
            effects = state.apply(item)
        for effect in effects:
            if isinstance(effect, CallFinished):
                _check(effect.record)  # the repository would accept it
                # A finished call is gone from the live state at once.
                assert effect.record.linkedid not in state.calls
                finished.append(effect.record.linkedid)
        consistent(state)


def scenario(kind: str, t0: float) -> list[Message]:
    """One complete call of ``kind`` as Asterisk 22 sends it (see test_state_recorded)."""
    pbx = Pbx(t=t0)
    one, two = pbx.inbound("+493012345600", "+4930111222")
    if kind == "ivr":
        pbx.wait(3)
    elif kind == "blocked":
        pbx.event("Newexten", two, Application="Queue", AppData="q-x,,,,300")
        pbx.event("VarSet", two, Variable="QUEUESTATUS", Value="JOINEMPTY")
    else:
        pbx.to_queue(two, "q-x")
        pbx.wait(5)
        if kind == "answered":
            a1, a2 = pbx.ring_agent(two, "q-x", "agent1", "Anna")
            pbx.answer(two, a1, queue="q-x", agent="agent1", member="Anna", hold=5)
            pbx.wait(7)
            pbx.complete(two, a1, queue="q-x", agent="agent1", member="Anna", hold=5, talk=7)
            pbx.hangup(a1)
            pbx.hangup(a2)
        else:  # abandoned or timeout: Asterisk sends QueueCallerAbandon for both
            pbx.event("QueueCallerAbandon", two, Queue="q-x", Position="1", HoldTime="5")
            pbx.event("QueueCallerLeave", two, Queue="q-x", Position="1", Count="0")
            if kind == "timeout":
                pbx.event("VarSet", two, Variable="QUEUESTATUS", Value="TIMEOUT")
    pbx.hangup(two)
    pbx.hangup(one)
    return list(pbx.log)


KINDS = ["answered", "abandoned", "timeout", "blocked", "ivr"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6), st.randoms())
def test_interleaved_calls_each_get_their_own_outcome(kinds: list[str], rnd: Random) -> None:
    streams = [scenario(kind, 1795780000.0 + 1000 * i) for i, kind in enumerate(kinds)]
    expected = {stream[0]["Linkedid"]: kind for stream, kind in zip(streams, kinds, strict=True)}
    pending = [list(reversed(s)) for s in streams]
    state = LiveState()
    outcomes: dict[str, str] = {}
    while any(pending):
        source = rnd.choice([p for p in pending if p])
        for effect in state.apply(source.pop()):
            if isinstance(effect, CallFinished):
                assert effect.record.linkedid not in outcomes
                outcomes[effect.record.linkedid] = effect.record.outcome
        consistent(state)
    assert outcomes == expected
    assert state.calls == {} and len(state.channels) == 0
    assert all(not q.waiting for q in state.queues.values())
