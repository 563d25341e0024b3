"""Replay AMI streams recorded from the real Asterisk 22 through parser and live state.

tests/fixtures/ami/queue_traffic.bin: 40 callers dialled into queue ``support`` (ringall, two
auto-answering Local agents Anna and Bernd, callers with CallerID ``Kunde N Ümlaut
<0301234NNN>``). That recording has no ``Timestamp`` headers, so only shapes and outcomes
are checked here; times are covered by the builder-based tests and the integration test.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import AmiParser
from callcenter.state.effects import CallFinished, Publish
from callcenter.state.live import LiveState

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def messages(name: str) -> list[Message]:
    parser = AmiParser()
    parser.receive_data((FIXTURES / name).read_bytes())
    return [m for m in parser if isinstance(m, Message)]


def test_recorded_queue_traffic_gives_one_answered_record_per_caller() -> None:
    state = LiveState(region="DE")
    finished = []
    published: Counter[str] = Counter()
    for msg in messages("queue_traffic.bin"):
        for effect in state.apply(msg):
            if isinstance(effect, CallFinished):
                finished.append(effect.record)
            elif isinstance(effect, Publish):
                published[effect.event["type"]] += 1
    assert len(finished) == 40
    assert len({r.linkedid for r in finished}) == 40
    assert {r.outcome for r in finished} == {"answered"}
    assert {r.queue for r in finished} == {"support"}
    assert {r.agent for r in finished} <= {"Anna", "Bernd"}
    callers = sorted(r.caller for r in finished if r.caller)
    assert callers == [f"+49301234{i:03d}" for i in range(40)]
    assert all(r.caller_name and r.caller_name.startswith("Kunde ") for r in finished)
    assert published["call.started"] == 40
    assert published["queue.caller_joined"] == 40
    assert published["call.answered"] == 40
    assert state.calls == {} and len(state.channels) == 0
    assert state.queues["support"].waiting == {}


def test_recorded_queuestatus_list_rebuilds_members_and_params() -> None:
    state = LiveState()
    msgs = messages("queuestatus.bin")
    state.begin_resync(1795788950.0)
    for msg in msgs:
        state.apply(msg)
    state.end_resync(1795788950.0)
    snap = state.snapshot(1795788950.0)
    assert list(snap["queues"]) == ["support"]
    assert snap["queues"]["support"]["strategy"] == "ringall"
    assert sorted(a["name"] for a in snap["agents"].values()) == ["Anna", "Bernd"]
