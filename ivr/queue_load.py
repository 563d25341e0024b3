"""Queue load for routing, read from the live state (AMI-fed ``LiveState``).

"Logged in" counts every member whose device is usable (not invalid or unavailable),
paused or not: overflow rule ``no_agents`` means nobody could ever answer, while a paused
receptionist will come back. "Available" members are logged in, not paused, not in a call
and their device is idle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from callcenter.state.agents import Member
from callcenter.state.queues import QueueState
from ivr.routing import QueueLoad

_UNUSABLE = frozenset({4, 5})  # invalid, unavailable
_IDLE = frozenset({0, 1})  # unknown (Local members without a state yet), not in use


def queue_loads(
    queues: Mapping[str, QueueState], members: Iterable[Member], now: float
) -> dict[str, QueueLoad]:
    """One :class:`QueueLoad` per queue at PBX time ``now``."""
    logged: dict[str, int] = {}
    available: dict[str, int] = {}
    for m in members:
        if m.status in _UNUSABLE:
            continue
        logged[m.queue] = logged.get(m.queue, 0) + 1
        if not m.paused and not m.in_call and m.status in _IDLE:
            available[m.queue] = available.get(m.queue, 0) + 1
    out: dict[str, QueueLoad] = {}
    for name, queue in queues.items():
        waits = [now - c.joined_at for c in queue.waiting.values()]
        out[name] = QueueLoad(
            agents_logged_in=logged.get(name, 0),
            agents_available=available.get(name, 0),
            callers_waiting=len(waits),
            longest_wait_s=max(0.0, max(waits, default=0.0)),
        )
    return out
