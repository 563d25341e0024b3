"""Queues as app_queue reports them: parameters, counters and the callers waiting.

Waiting callers keep the PBX time they joined, so a snapshot computes each wait at the
moment it is taken instead of storing a number that goes stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from callcenter.state.channels import int_header


@dataclass(slots=True)
class WaitingCaller:
    uniqueid: str
    linkedid: str
    channel: str
    position: int
    joined_at: float
    caller_num: str
    caller_name: str
    tenant: str | None = None

    def view(self, now: float) -> dict[str, Any]:
        return {
            "uniqueid": self.uniqueid,
            "tenant": self.tenant,
            "linkedid": self.linkedid,
            "position": self.position,
            "caller_num": self.caller_num,
            "caller_name": self.caller_name,
            "joined_at": self.joined_at,
            "wait": round(max(0.0, now - self.joined_at), 3),
        }


@dataclass(slots=True)
class QueueState:
    """One queue. ``pbx`` holds the QueueParams numbers (Completed, Abandoned, …) as the
    PBX counts them, kept current between resyncs from the events that change them."""

    name: str
    strategy: str = ""
    max: int = 0
    weight: int = 0
    service_level: int = 0
    pbx: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, WaitingCaller] = field(default_factory=dict)
    # Seen by this process since it started (not reset by resync): callers that joined,
    # were answered, and final outcomes of the calls that ended after reaching this queue.
    # Unlike Asterisk's own "Abandoned" (pbx), "abandoned" here excludes queue timeouts.
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("joined", "answered", "abandoned", "timeout", "blocked", "diverted", "lost"), 0
        )
    )

    def set_params(self, h: dict[str, str]) -> None:
        self.strategy = h.get("Strategy", self.strategy)
        self.max = int_header(h.get("Max"))
        self.weight = int_header(h.get("Weight"))
        self.service_level = int_header(h.get("ServiceLevel"))
        self.pbx = {
            "calls": int_header(h.get("Calls")),
            "holdtime": int_header(h.get("Holdtime")),
            "talktime": int_header(h.get("TalkTime")),
            "completed": int_header(h.get("Completed")),
            "abandoned": int_header(h.get("Abandoned")),
            "servicelevel_perf": _float(h.get("ServicelevelPerf")),
            "servicelevel_perf2": _float(h.get("ServicelevelPerf2")),
        }

    def join(self, caller: WaitingCaller) -> None:
        """``caller`` enters at its ``position``: app_queue inserts a caller of higher
        priority ahead of others, who each move one place back."""
        if caller.uniqueid in self.waiting:
            self.leave(caller.uniqueid)
        for other in self.waiting.values():
            if caller.position and other.position >= caller.position:
                other.position += 1
        self.waiting[caller.uniqueid] = caller
        self.counters["joined"] += 1

    def leave(self, uniqueid: str) -> WaitingCaller | None:
        caller = self.waiting.pop(uniqueid, None)
        if caller is not None:
            # app_queue moves everyone behind the leaver up by one.
            for other in self.waiting.values():
                if other.position > caller.position:
                    other.position -= 1
        return caller

    def bump_pbx(self, key: str) -> None:
        """Follow an Asterisk counter between two QueueStatus lists."""
        if self.pbx:
            self.pbx[key] = self.pbx.get(key, 0) + 1

    def follow_average(self, key: str, sample: int) -> None:
        """Follow app_queue's running averages between two QueueStatus lists, by its rules:
        ``holdtime`` on answer, ``talktime`` after ``completed`` was counted; the first
        sample is taken as is, later ones weigh in as (3·old + new) / 4."""
        if not self.pbx:
            return
        first = (
            self.pbx.get("completed", 0) + self.pbx.get("abandoned", 0) == 0
            if key == "holdtime"
            else self.pbx.get("completed", 0) == 1
        )
        self.pbx[key] = sample if first else (3 * int(self.pbx.get(key, 0)) + sample) // 4

    def view(self, now: float, tenant: str | None = None) -> dict[str, Any]:
        waiting = sorted(self.waiting.values(), key=lambda c: c.position)
        longest = max((now - c.joined_at for c in waiting), default=0.0)
        return {
            "name": self.name,
            "tenant": tenant,
            "strategy": self.strategy,
            "max": self.max,
            "weight": self.weight,
            "service_level": self.service_level,
            "callers": [c.view(now) for c in waiting],
            "calls": len(waiting),
            "longest_wait": round(max(0.0, longest), 3),
            "pbx": dict(self.pbx),
            "counters": dict(self.counters),
        }


def _float(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
