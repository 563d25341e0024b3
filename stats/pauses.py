"""Receptionists' pauses from Asterisk's ``queue_log``: billable and non-billable time.

Rule of this module: pure. app_queue logs ``PAUSE|reason`` and ``UNPAUSE`` per queue a member
is paused in (``time|NONE|queue|member|PAUSE|reason``). A receptionist counts as paused
while paused in at least one queue; the time goes to the reason of the pause that began
it. Which reasons are billable (after-call work such as note writing) is the
secretariat's choice: ``billable`` names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class PauseTime:
    billable: float = 0.0
    non_billable: float = 0.0
    by_reason: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "billable_seconds": round(self.billable, 1),
            "non_billable_seconds": round(self.non_billable, 1),
            "by_reason": {k: round(v, 1) for k, v in sorted(self.by_reason.items())},
        }


def pause_times(
    lines: Iterable[str], start: float, end: float, billable: frozenset[str]
) -> dict[str, PauseTime]:
    """Seconds each member was paused within ``[start, end)`` (epoch seconds), by reason.

    A pause still open at ``end`` counts until ``end``; one begun before ``start`` counts
    from ``start`` (the lines before ``start`` must be passed for that).
    """
    # member -> queue -> (since, reason) while paused there
    open_: dict[str, dict[str, tuple[float, str]]] = {}
    # member -> (since, reason) of the current paused stretch (paused in ≥ 1 queue)
    stretch: dict[str, tuple[float, str]] = {}
    out: dict[str, PauseTime] = {}

    def close(member: str, at: float) -> None:
        since, reason = stretch.pop(member)
        seconds = max(0.0, min(at, end) - max(since, start))
        if seconds <= 0:
            return
        t = out.setdefault(member, PauseTime())
        t.by_reason[reason] = t.by_reason.get(reason, 0.0) + seconds
        if reason in billable:
            t.billable += seconds
        else:
            t.non_billable += seconds

    for line in lines:
        parts = line.rstrip("\n").split("|")
        if len(parts) < 5 or parts[4] not in ("PAUSE", "UNPAUSE"):
            continue
        try:
            at = float(parts[0])
        except ValueError:
            continue
        queue, member, verb = parts[2], parts[3], parts[4]
        queues = open_.setdefault(member, {})
        if verb == "PAUSE":
            reason = (parts[5] if len(parts) > 5 else "").strip() or "pause"
            queues.setdefault(queue, (at, reason))
            stretch.setdefault(member, (at, reason))
        else:
            queues.pop(queue, None)
            if not queues and member in stretch:
                close(member, at)
    for member in list(stretch):
        close(member, end)
    return out
