"""What ``queue_log`` says about one finished call, and how it completes a call row.

Rule of this module: pure. :func:`summarise` turns the lines of one inbound channel (its
``CC_START``/``CC_END`` and app_queue's lines with the same callid) into a
:class:`PbxCall`; :func:`record_from` builds a whole call row from it (the app never saw the
call) and :func:`completion` lists only the fields a stored row lacks (the app saw part of
it). Outcome precedence follows :meth:`callcenter.state.calls.Call.outcome` (GUIDE §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from callcenter.phone.numbers import normalize_number
from callcenter.records.queue_log import QueueLogLine
from callcenter.state.calls import DIVERTED
from callcenter.state.records import CallRecord, Outcome

START, END = "CC_START", "CC_END"
# Events that end an answered stint and carry (holdtime, calltime) in data1, data2 ...
_TALK_END = {"COMPLETECALLER": 2, "COMPLETEAGENT": 2, "BLINDTRANSFER": 4, "ATTENDEDTRANSFER": 4}
# ... and those that end an unanswered stint, with the index of their waittime field.
_LEFT = {"ABANDON": 3, "EXITWITHTIMEOUT": 3, "EXITEMPTY": 3, "EXITWITHKEY": 4}
_NONE = "NONE"


@dataclass(slots=True)
class PbxCall:
    """One inbound call as the PBX recorded it."""

    linkedid: str
    callid: str
    ended_at: datetime
    entered_at: datetime
    tenant: str | None = None
    did: str | None = None
    caller: str | None = None
    cc_outcome: str | None = None
    queue: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    agent: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    left: str | None = None  # event that ended the last unanswered stint
    events: list[str] = field(default_factory=list)

    def outcome(self) -> Outcome:
        if self.answered_at is not None:
            return "answered"
        if self.cc_outcome in DIVERTED:
            return "diverted"
        if self.left == "EXITWITHTIMEOUT":
            return "timeout"
        if self.left == "EXITEMPTY":
            return "blocked"
        if self.left == "ABANDON":
            return "abandoned"
        if self.queued_at is None:
            return "ivr"
        return "diverted"


def _value(text: str) -> str | None:
    return text if text and text != _NONE else None


def summarise(end: QueueLogLine, lines: Iterable[QueueLogLine]) -> PbxCall:
    """The call ended by ``end`` (a ``CC_END`` line) from all lines with its callid."""
    call = PbxCall(
        linkedid=end.field(1),
        callid=end.callid,
        ended_at=end.time,
        entered_at=end.time,
        tenant=_value(end.field(2)),
        did=_value(end.field(3)),
        caller=_value(end.field(4)),
        cc_outcome=_value(end.field(5)),
    )
    for line in sorted(lines, key=lambda x: x.time):
        call.events.append(line.event)
        if line.event == START:
            call.entered_at = min(call.entered_at, line.time)
            call.did = call.did or _value(line.field(2))
            call.caller = call.caller or _value(line.field(3))
        elif line.event == "ENTERQUEUE":
            if call.queued_at is None:
                call.queued_at, call.queue = line.time, _value(line.queuename)
            call.left = None
        elif line.event == "CONNECT" and call.answered_at is None:
            call.answered_at, call.agent = line.time, _value(line.agent)
            call.queue = _value(line.queuename) or call.queue
            call.wait_seconds = line.number(1)
        elif line.event in _TALK_END and call.talk_seconds is None:
            call.talk_seconds = line.number(_TALK_END[line.event])
        elif line.event in _LEFT and call.answered_at is None:
            call.left = line.event
            call.wait_seconds = line.number(_LEFT[line.event])
    return call


def record_from(call: PbxCall, region: str) -> CallRecord:
    """A whole call row for a call the app never stored."""
    entered = min(call.entered_at, call.queued_at or call.entered_at)
    return CallRecord(
        linkedid=call.linkedid,
        entered_at=entered,
        ended_at=max(call.ended_at, entered),
        outcome=call.outcome(),
        tenant=call.tenant,
        did=normalize_number(call.did, region) or call.did,
        caller=normalize_number(call.caller, region),
        caller_raw=call.caller,
        queue=call.queue,
        agent=call.agent,
        queued_at=call.queued_at,
        answered_at=call.answered_at,
        wait_seconds=call.wait_seconds,
        talk_seconds=call.talk_seconds,
        extra={"source": "queue_log", "pbx_events": call.events},
    )


# Row fields the PBX's lines can complete, and how to read them from a PbxCall.
_COMPLETABLE = ("tenant", "queue", "agent", "queued_at", "answered_at", "wait_seconds")


def completion(row: Mapping[str, Any], call: PbxCall) -> dict[str, Any]:
    """Values for the fields ``row`` lacks and the PBX knows (empty: nothing to do).

    ``row`` is the stored call as a mapping of column → value. A row the live state closed as
    ``lost`` (it lost sight of the PBX) but that the PBX saw end normally also gets the
    PBX's outcome and end time.
    """
    updates: dict[str, Any] = {}
    for name in _COMPLETABLE:
        value = getattr(call, name)
        if row.get(name) is None and value is not None:
            updates[name] = value
    if row.get("talk_seconds") is None and call.answered_at is not None:
        talk = call.talk_seconds
        if talk is None:  # a stint that ended without COMPLETE* (e.g. the PBX restarted)
            talk = max(0.0, (call.ended_at - call.answered_at).total_seconds())
        updates["talk_seconds"] = talk
    outcome = call.outcome()
    if row.get("outcome") in ("lost", "ivr") and outcome not in ("ivr",):
        updates["outcome"] = outcome
        if row.get("outcome") == "lost":
            updates["ended_at"] = call.ended_at
    if updates:
        extra = dict(row.get("extra") or {})
        extra["reconciled"] = sorted(set(extra.get("reconciled", [])) | set(updates))
        updates["extra"] = extra
    return updates


def due(end_time: datetime, now: datetime, grace: float) -> bool:
    """Whether a ``CC_END`` is old enough that the live state had its chance to write."""
    return end_time <= now - timedelta(seconds=grace)
