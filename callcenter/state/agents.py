"""Queue members and the agents behind them.

app_queue reports one member per (queue, interface); a receptionist in three queues is three
members. :class:`AgentBoard` keeps the members and derives one agent view per interface:
device status, in call, paused (with reason), since when, calls taken and last call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.state.channels import int_header

# ast_device_state numbers as sent in the ``Status`` header.
DEVICE_STATES = {
    0: "unknown",
    1: "not_inuse",
    2: "inuse",
    3: "busy",
    4: "invalid",
    5: "unavailable",
    6: "ringing",
    7: "ringinuse",
    8: "onhold",
}
_BUSY = frozenset({2, 3, 7, 8})


@dataclass(slots=True)
class Member:
    """One membership of an interface in a queue."""

    queue: str
    interface: str
    name: str
    state_interface: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    last_call: float
    penalty: int
    since: float

    def key(self) -> tuple[str, str]:
        return (self.interface, self.queue)


def member_from(h: dict[str, str], now: float) -> Member:
    """From QueueMemberStatus/Added/Pause (``Interface``/``MemberName``) or the QueueStatus
    list entry QueueMember (``Location``/``Name``)."""
    interface = h.get("Interface") or h.get("Location") or ""
    paused = h.get("Paused") == "1"
    since = now
    last_pause = int_header(h.get("LastPause"))
    if paused and last_pause:
        since = float(last_pause)
    return Member(
        queue=h.get("Queue", ""),
        interface=interface,
        name=h.get("MemberName") or h.get("Name") or interface,
        state_interface=h.get("StateInterface", ""),
        status=int_header(h.get("Status")),
        paused=paused,
        paused_reason=h.get("PausedReason") or h.get("Reason") or "",
        in_call=h.get("InCall") == "1",
        calls_taken=int_header(h.get("CallsTaken")),
        last_call=float(int_header(h.get("LastCall"))),
        penalty=int_header(h.get("Penalty")),
        since=since,
    )


class AgentBoard:
    """Members keyed by (interface, queue) plus an index by interface for aggregation."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], Member] = {}
        self.by_interface: dict[str, dict[str, Member]] = {}

    def upsert(self, new: Member) -> bool:
        """Store ``new``; return True if what a wallboard shows changed."""
        old = self.members.get(new.key())
        if old is not None and _same_presence(old, new):
            new.since = old.since  # "since" is the last *state* change, not the last event
        self.members[new.key()] = new
        self.by_interface.setdefault(new.interface, {})[new.queue] = new
        return old is None or not _same_view(old, new)

    def remove(self, interface: str, queue: str) -> Member | None:
        member = self.members.pop((interface, queue), None)
        if member is not None:
            queues = self.by_interface.get(interface)
            if queues is not None:
                queues.pop(queue, None)
                if not queues:
                    del self.by_interface[interface]
        return member

    def agent_view(self, interface: str, now: float) -> dict[str, Any]:
        members = list(self.by_interface.get(interface, {}).values())
        if not members:
            return {"interface": interface, "queues": [], "status": "logged_out"}
        newest = max(members, key=lambda m: m.since)
        paused = all(m.paused for m in members)
        reasons = sorted({m.paused_reason for m in members if m.paused and m.paused_reason})
        return {
            "interface": interface,
            "name": newest.name,
            "state_interface": newest.state_interface,
            "status": DEVICE_STATES.get(newest.status, str(newest.status)),
            "in_call": any(m.in_call or m.status in _BUSY for m in members),
            "paused": paused,
            "paused_reason": ", ".join(reasons) if paused else "",
            "since": newest.since,
            "for": round(max(0.0, now - newest.since), 3),
            "calls_taken": sum(m.calls_taken for m in members),
            "last_call": max(m.last_call for m in members) or None,
            "queues": sorted(
                (
                    {
                        "queue": m.queue,
                        "paused": m.paused,
                        "paused_reason": m.paused_reason,
                        "penalty": m.penalty,
                        "calls_taken": m.calls_taken,
                    }
                    for m in members
                ),
                key=lambda q: str(q["queue"]),
            ),
        }

    def views(self, now: float) -> dict[str, dict[str, Any]]:
        return {i: self.agent_view(i, now) for i in sorted(self.by_interface)}


def _same_presence(a: Member, b: Member) -> bool:
    return (a.status, a.paused, a.in_call) == (b.status, b.paused, b.in_call)


def _same_view(a: Member, b: Member) -> bool:
    return _same_presence(a, b) and (a.paused_reason, a.calls_taken, a.name, a.penalty) == (
        b.paused_reason,
        b.calls_taken,
        b.name,
        b.penalty,
    )
