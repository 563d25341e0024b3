"""When a tenant's callbacks may be dialled: inside opening hours, not too close to closing.

Pure. A callback dialled five minutes before closing would reach a receptionist who then
has to stay late, so dialling stops ``closing_margin_s`` before the tenant closes. Requests
made while closed (or in that margin) wait for the next opening; the tenant's hours come
through :class:`Hours` (wired from the IVR's opening-hours rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Hours(Protocol):
    def is_open(self, at: datetime) -> bool: ...

    def next_opening(self, at: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Window:
    open: bool
    next_at: datetime | None  # when closed: the next instant dialling may start


def dial_window(hours: Hours, now: datetime, closing_margin_s: float) -> Window:
    margin = timedelta(seconds=max(0.0, closing_margin_s))
    if hours.is_open(now) and hours.is_open(now + margin):
        return Window(True, None)
    start = now if not hours.is_open(now) else now + margin
    nxt = hours.next_opening(start)
    # next_opening may land inside the margin of a short interval: step past it once.
    while nxt is not None and not hours.is_open(nxt + margin) and nxt < now + timedelta(days=400):
        nxt = hours.next_opening(nxt + margin + timedelta(seconds=1))
    return Window(False, nxt)
