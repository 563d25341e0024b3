"""Live state on event streams recorded from the real Asterisk 22 with timestamps.

Recorded by tests/fixtures/state/record.py through the shipped dialplan: a simulated caller
(Local/+493012345600@from-trunk, caller script on the other leg) into ``q-default`` with the
auto-answering Local agent ``Dora`` (Local/agentd1@agents/n), per scenario:

answered   agent rings 1 s, talks 2 s          abandoned  no agent, caller gives up after 2 s
timeout    no agent, queue timeout 2 s         blocked    q-strict (joinempty = no), no agent
transfer   agent answers, blind-transfers the caller to agentd2 after 0.5 s, which talks 3 s
resync     CoreShowChannels + QueueStatus lists while one caller talks and one waits
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.pbx.ami.message import Message
from callcenter.state.effects import CallFinished, Effect
from callcenter.state.live import LiveState
from callcenter.state.records import CallRecord

HERE = Path(__file__).resolve().parent.parent / "fixtures" / "state"


def recorded(name: str) -> list[Message]:
    data = json.loads((HERE / f"{name}.json").read_text())
    return [Message(tuple((k, v) for k, v in headers)) for headers in data]


def replay(name: str) -> tuple[LiveState, list[Effect]]:
    state = LiveState(region="DE")
    effects: list[Effect] = []
    for msg in recorded(name):
        effects += state.apply(msg)
    return state, effects


def only_record(name: str) -> CallRecord:
    state, effects = replay(name)
    [record] = [e.record for e in effects if isinstance(e, CallFinished)]
    assert state.calls == {} and len(state.channels) == 0
    assert record.entered_at <= record.ended_at
    if record.queued_at is not None:
        assert record.entered_at <= record.queued_at <= record.ended_at
    if record.answered_at is not None:
        assert record.queued_at is not None
        assert record.queued_at <= record.answered_at <= record.ended_at
    return record


def test_answered() -> None:
    record = only_record("answered")
    assert record.outcome == "answered"
    assert record.caller == "+4930111301" and record.caller_name == "Anrufer"
    assert record.did == "+493012345600"
    assert (record.queue, record.agent) == ("q-default", "Dora")
    assert record.wait_seconds == pytest.approx(1.0, abs=0.2)  # the agent's ring time
    assert record.talk_seconds is not None and 2.0 <= record.talk_seconds <= 3.0
    assert record.extra["pbx_hold_time"] == 1
    assert record.language == "en"


def test_abandoned() -> None:
    record = only_record("abandoned")
    assert record.outcome == "abandoned"
    assert record.answered_at is None and record.agent is None
    assert record.wait_seconds is not None and 1.0 <= record.wait_seconds <= 2.5
    assert "queue_status" not in record.extra


def test_timeout_is_not_an_abandon() -> None:
    # Asterisk sends QueueCallerAbandon here too; QUEUESTATUS=TIMEOUT decides.
    record = only_record("timeout")
    assert record.outcome == "timeout"
    assert record.wait_seconds == pytest.approx(2.0, abs=0.2)
    assert record.extra["queue_status"] == "TIMEOUT"


def test_blocked_by_joinempty() -> None:
    record = only_record("blocked")
    assert record.outcome == "blocked"
    assert record.queue == "q-strict"
    assert record.queued_at is None and record.wait_seconds is None


def test_blind_transfer_stays_one_answered_call() -> None:
    _, effects = replay("transfer")
    [record] = [e.record for e in effects if isinstance(e, CallFinished)]
    assert record.outcome == "answered" and record.agent == "Dora"
    assert record.extra["complete_reason"] == "transfer"
    assert record.talk_seconds == pytest.approx(0.5, abs=0.2)  # Dora's part only
    assert record.answered_at is not None
    assert (record.ended_at - record.answered_at).total_seconds() == pytest.approx(3.5, abs=0.3)


def test_rebuild_from_recorded_lists() -> None:
    state = LiveState()
    now = 1795789522.0
    state.begin_resync(now)
    effects = [e for msg in recorded("resync") for e in state.apply(msg)]
    effects += state.end_resync(now)
    assert not [e for e in effects if isinstance(e, CallFinished)]
    snap = state.snapshot(now)
    assert snap["channels"] == 6
    phases = {c["caller"]: c["phase"] for c in snap["calls"].values()}
    assert phases == {"+4930111306": "answered", "+4930111307": "queued"}
    queue = snap["queues"]["q-default"]
    assert [(w["caller_num"], w["wait"]) for w in queue["callers"]] == [("+4930111307", 3.0)]
    assert set(snap["queues"]) == {"q-default", "q-strict"}
    [agent] = snap["agents"].values()
    assert (agent["name"], agent["in_call"]) == ("Dora", True)
