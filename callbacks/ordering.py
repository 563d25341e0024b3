"""The virtual place: who is served next when live callers and callbacks share a queue.

Rule of this module: one order for everybody in a queue, by queue priority (VIP first),
then by original arrival (when the caller joined the queue, or asked for a callback from
the IVR or API), then by a stable key. A callback is therefore never ahead of a caller who
was there first and never behind one who came later, the way Amazon Connect routes a
callback by the original call's start time. app_queue keeps its callers in exactly this
order as long as every entry joins at the right index: live callers join at the end of
their priority band (they are the latest arrivals), and a callback's placeholder joins at
:func:`queue_position` (``Queue()``'s ``position`` argument).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    """One entry of a queue: a live caller or a callback (``callback=True``)."""

    key: str  # channel uniqueid or "cb-<id>"
    priority: int  # app_queue QUEUE_PRIO; higher is served first
    arrival: float  # epoch seconds
    callback: bool = False


def sort_key(place: Place) -> tuple[int, float, str]:
    return (-place.priority, place.arrival, place.key)


def ahead(a: Place, b: Place) -> bool:
    """True when ``a`` is served before ``b``."""
    return sort_key(a) < sort_key(b)


def service_order(places: Iterable[Place]) -> list[Place]:
    return sorted(places, key=sort_key)


def queue_position(new: Place, waiting: Sequence[Place]) -> int:
    """The 1-based index for ``Queue(..., position)`` so that ``new`` lands in its place
    among the entries waiting now (app_queue never puts it ahead of a higher priority)."""
    return 1 + sum(1 for w in waiting if w.key != new.key and ahead(w, new))


def virtual_positions(callbacks: Iterable[Place], live: Iterable[Place]) -> dict[str, int]:
    """Each callback's 1-based position among everybody waiting for the same queue."""
    order = service_order([*callbacks, *live])
    return {p.key: i for i, p in enumerate(order, 1) if p.callback}


def callbacks_ahead(caller: Place, callbacks: Iterable[Place]) -> int:
    """How many callbacks a live caller's position announcement must count ahead."""
    return sum(1 for c in callbacks if ahead(c, caller))
