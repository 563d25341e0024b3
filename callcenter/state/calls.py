"""Calls: all channels sharing a ``Linkedid``, from first channel to last hang-up.

A call collects what controlling needs (caller, DID, tenant, language, queue, agent and the
entered/queued/answered/ended times) and, when its last channel is gone, becomes a
:class:`~callcenter.state.records.CallRecord` with one outcome (GUIDE §5, records.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callcenter.phone.numbers import is_anonymous, normalize_number
from callcenter.state.records import CallRecord, Outcome

# QUEUESTATUS values app_queue leaves on the channel when Queue() returns without an agent.
QUEUE_TIMEOUT = frozenset({"TIMEOUT"})
QUEUE_BLOCKED = frozenset({"FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"})
# CC_OUTCOME values set by our dialplan/IVR when a rule or the caller diverts the call.
DIVERTED = frozenset({"voicemail", "callback", "rejected"})
# rejected: a receptionist hung up a caller still waiting in the queue (call control). Not an
# abandon (the caller did not give up); stored as ``diverted`` with cc_outcome "rejected".
# Seconds our timestamps may differ from app_queue's whole-second HoldTime/TalkTime.
PBX_TOLERANCE = 2.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@dataclass(slots=True)
class Call:
    """Mutable state of one call while it is up; owned by the live state."""

    linkedid: str
    entered_at: float
    channels: set[str] = field(default_factory=set)
    caller_raw: str | None = None
    caller_name: str | None = None
    did: str | None = None
    tenant: str | None = None
    language: str | None = None
    queue: str | None = None
    queue_channel: str | None = None  # uniqueid of the channel waiting in / served by the queue
    queued_at: float | None = None
    left_queue_at: float | None = None
    position: int | None = None
    ringing: int = 0  # agents being rung right now
    agent: str | None = None
    agent_interface: str | None = None
    agent_channel: str | None = None
    answered_at: float | None = None
    talk_end_at: float | None = None
    abandoned: bool = False
    queue_status: str | None = None
    cc_outcome: str | None = None
    hangup_cause: str | None = None
    hold_seconds: float = 0.0
    held: set[str] = field(default_factory=set)  # uniqueids on hold now (phone or cc-hold)
    parked: dict[str, str] | None = None  # slot and lot while in res_parking
    pickup_agent: str | None = None  # name of the position a console pickup rings
    last_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # One entry per queue stint (overflow, transfer back to a queue): queue, uniqueid,
    # joined, left, answered, abandoned, status. Statistics count each queue's leg from it.
    stints: list[dict[str, Any]] = field(default_factory=list)

    def stint_joined(self, queue: str, uniqueid: str, t: float) -> None:
        last = self.stints[-1] if self.stints else None
        if last and last["queue"] == queue and last["uniqueid"] == uniqueid and "left" not in last:
            return  # the same entry seen again (resync, replay)
        self.stints.append({"queue": queue, "uniqueid": uniqueid, "joined": t})

    def stint_left(self, queue: str, uniqueid: str, t: float, *, abandoned: bool) -> None:
        for stint in reversed(self.stints):
            if stint["queue"] == queue and stint["uniqueid"] == uniqueid:
                stint.setdefault("left", t)
                if abandoned and not stint.get("answered"):
                    stint["abandoned"] = True
                return

    def stint_update(self, **values: Any) -> None:
        """Mark the latest stint (answered, QUEUESTATUS) unless it already has the key."""
        if self.stints:
            for key, value in values.items():
                self.stints[-1].setdefault(key, value)

    def _stints_out(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for s in self.stints:
            end = s.get("left", self.answered_at if s.get("answered") else self.last_at)
            out.append(
                {
                    "queue": s["queue"],
                    "uniqueid": s["uniqueid"],
                    "wait": round(max(0.0, (end or s["joined"]) - s["joined"]), 3),
                    **{k: s[k] for k in ("answered", "abandoned", "status") if k in s},
                }
            )
        return out

    @property
    def phase(self) -> str:
        """Where the call is now: ``ivr``, ``queued``, ``ringing``, ``answered``, ``left``."""
        # Waiting now comes first: an answered call transferred to another queue is
        # queued again (its first answer still counts for the call row).
        if self.queued_at is not None and self.left_queue_at is None:
            return "ringing" if self.ringing else "queued"
        if self.answered_at is not None:
            return "answered"
        if self.queued_at is not None:
            return "left"
        return "ivr"

    def outcome(self) -> Outcome:
        """Outcome once the call is over (GUIDE §5); precedence is answer > rule > caller."""
        if self.answered_at is not None:
            return "answered"
        if self.cc_outcome in DIVERTED or self.queue_status == "WITHDRAW":
            return "diverted"
        # Asterisk 22 sends QueueCallerAbandon on a queue timeout too, then sets
        # QUEUESTATUS=TIMEOUT: the status decides. A caller who hangs up gets no QUEUESTATUS.
        if self.queue_status in QUEUE_TIMEOUT:
            return "timeout"
        if self.queue_status in QUEUE_BLOCKED:
            # JOINEMPTY/FULL refuse before any QueueCallerJoin, so check before "queued".
            return "blocked"
        if self.abandoned:
            return "abandoned"
        if self.queued_at is None:
            return "ivr"
        # Left the queue alive without answer, timeout or rule (e.g. an exit digit):
        # the dialplan moved it on, which is a diversion.
        return "diverted"

    def wait_seconds(self) -> float | None:
        if self.queued_at is None or "answer_time_unknown" in self.extra:
            return None
        end = self.answered_at or self.left_queue_at or self.last_at
        return max(0.0, end - self.queued_at)

    def talk_seconds(self, ended_at: float) -> float | None:
        if self.answered_at is None or "answer_time_unknown" in self.extra:
            return None
        end = self.talk_end_at if self.talk_end_at is not None else ended_at
        return max(0.0, end - self.answered_at)

    def to_record(self, ended_at: float, region: str, outcome: Outcome | None = None) -> CallRecord:
        """Freeze into the row persistence stores; ``outcome`` overrides (``lost``)."""
        final = outcome or self.outcome()
        extra = dict(self.extra)
        # The contact's name stays in the CRM (erasable there); the row keeps its id only.
        extra.pop("contact_name", None)
        if outcome is not None:
            extra["phase_at_loss"] = self.phase  # ivr, queued, ringing, answered, left
        if self.hold_seconds:
            extra["hold_seconds"] = round(self.hold_seconds, 3)
        if self.queue_status:
            extra["queue_status"] = self.queue_status
        if self.cc_outcome:
            extra["cc_outcome"] = self.cc_outcome
        if self.agent_interface:
            extra["agent_interface"] = self.agent_interface
        if self.stints:
            extra["stints"] = self._stints_out()
        wait, talk = self.wait_seconds(), self.talk_seconds(ended_at)
        if outcome is not None and wait is not None and self.phase in ("queued", "ringing"):
            # Lost while still waiting (the PBX went away): it waited until then, not only
            # until its last event (issue #8: such rows said 0 s after 10-18 s of waiting).
            wait = max(wait, ended_at - (self.queued_at or ended_at))
        # Cross-check with app_queue's own whole-second figures (HoldTime, TalkTime): a
        # larger gap means events were missed or reordered; statistics should look twice.
        mismatch = [
            name
            for name, ours, key in (
                ("wait", wait, "pbx_hold_time"),
                ("talk", talk, "pbx_talk_time"),
            )
            if ours is not None and key in extra and abs(ours - extra[key]) > PBX_TOLERANCE
        ]
        if mismatch:
            extra["pbx_mismatch"] = mismatch
        return CallRecord(
            linkedid=self.linkedid,
            entered_at=utc(self.entered_at),
            ended_at=utc(max(ended_at, self.entered_at)),
            outcome=final,
            tenant=self.tenant,
            did=normalize_number(self.did, region) or self.did,
            caller=normalize_number(self.caller_raw, region),
            caller_raw=self.caller_raw,
            caller_name=_name(self.caller_name),
            language=self.language,
            queue=self.queue,
            agent=self.agent,
            queued_at=utc(self.queued_at) if self.queued_at is not None else None,
            answered_at=utc(self.answered_at) if self.answered_at is not None else None,
            wait_seconds=_round(wait),
            talk_seconds=_round(talk),
            hangup_cause=self.hangup_cause,
            extra=extra,
        )

    @property
    def activity(self) -> str:
        """The phase, or what the caller is in now: ``parked``, ``on_hold``."""
        if self.parked is not None:
            return "parked"
        if self.held:
            return "on_hold"
        return self.phase

    def view(self, now: float, region: str) -> dict[str, Any]:
        """JSON-able live view for dashboards and the receptionist console.

        ``agent``: the receptionist's position name (app_queue's MemberName) who has the
        call now; None while the call waits in a queue again (transferred back)."""
        wait = self.wait_seconds() if self.left_queue_at or self.answered_at else None
        if self.queued_at is not None and wait is None:
            wait = max(0.0, now - self.queued_at)
        phase = self.phase
        waiting = phase in ("queued", "ringing")
        return {
            "linkedid": self.linkedid,
            "phase": phase,
            "state": self.activity,
            "on_hold": bool(self.held),
            "parked": dict(self.parked) if self.parked is not None else None,
            "caller": normalize_number(self.caller_raw, region),
            "caller_raw": self.caller_raw,
            "caller_name": _name(self.caller_name),
            "did": normalize_number(self.did, region) or self.did,
            "tenant": self.tenant,
            "language": self.language,
            "queue": self.queue,
            "position": self.position if waiting else None,
            "agent": None if waiting else self.agent,
            "agent_interface": None if waiting else self.agent_interface,
            "entered_at": self.entered_at,
            "queued_at": self.queued_at,
            "answered_at": self.answered_at,
            "duration": round(max(0.0, now - self.entered_at), 3),
            "wait": _round(wait),
            "channels": len(self.channels),
            "contact": self.extra.get("contact_id"),
            # From the CRM screen pop: contact/organisation/unknown/anonymous/invalid.
            "crm_status": self.extra.get("crm_status"),
            "contact_name": self.extra.get("contact_name"),
            "contact_vip": bool(self.extra.get("contact_vip", False)),
            "ivr_path": self.extra.get("ivr_path"),  # menu choices, e.g. "main>2>staff"
            # The last transfer that could not be placed: target, DIALSTATUS, reason.
            "transfer_failed": self.extra.get("transfer_failed"),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _name(value: str | None) -> str | None:
    if value is None or is_anonymous(value):
        return None
    return value
