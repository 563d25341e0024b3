"""One caller lookup per call, shared by everybody who asks about that caller.

The IVR asks first (VIP routing, when the call enters Stasis); the screen pop asks a moment
later, when the live state shows the call's tenant. Both go through :class:`CallerIdentity`:
the first question runs the lookup, a second one within ``ttl`` seconds (or while the first
is still running) gets the same answer. The screen pop then publishes the match on the bus
(``CALLER_MATCHED``), where the live state and the dashboards take it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

from callcenter.phone.numbers import DEFAULT_REGION
from crm.lookup import CallerLookup, Match

Key = tuple[int, str, str]


class CallerIdentity:
    """A :class:`CallerLookup` that looks each (tenant, caller) up once per ``ttl``."""

    def __init__(
        self,
        lookup: CallerLookup,
        *,
        ttl: float = 60.0,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._size = size
        self._clock = clock
        # Bounded and short-lived: calls in progress only, never a copy of the CRM.
        self._recent: collections.OrderedDict[Key, tuple[float, asyncio.Future[Match]]] = (
            collections.OrderedDict()
        )
        self.lookups = 0  # lookups actually run (the rest were answered from a recent one)

    async def lookup(
        self, tenant_id: int, caller_raw: str | None, region: str = DEFAULT_REGION
    ) -> Match:
        key = (tenant_id, caller_raw or "", region)
        now = self._clock()
        recent = self._recent.get(key)
        if recent is not None and now - recent[0] < self._ttl:
            return await asyncio.shield(recent[1])
        future = asyncio.ensure_future(self._lookup.lookup(tenant_id, caller_raw, region))
        self.lookups += 1
        self._recent[key] = (now, future)
        self._recent.move_to_end(key)
        while len(self._recent) > self._size:
            self._recent.popitem(last=False)
        future.add_done_callback(lambda f: self._failed(key, f))
        # Shielded: a caller that gives up (the IVR's short timeout) leaves the lookup
        # running for the next one to ask.
        return await asyncio.shield(future)

    def _failed(self, key: Key, future: asyncio.Future[Match]) -> None:
        if future.cancelled() or future.exception() is not None:
            entry = self._recent.get(key)
            if entry is not None and entry[1] is future:
                del self._recent[key]  # a failure is not remembered: ask again next time
