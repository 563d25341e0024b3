"""Placing: claimed callbacks become placeholders in app_queue at their virtual place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from callbacks import dispatch
from callbacks.dialer_core import with_caller_id
from callbacks.dialer_effects import EffectRunner
from callbacks.dispatch import Job, parse_channel_id, slot_ids
from callbacks.ordering import Place

# How long placing waits for a placeholder to join its queue before placing the next one.
JOIN_S = 2.0


class Placement(EffectRunner):
    _lock: asyncio.Lock
    _window: int | None
    _open_tenants: Callable[[datetime], Collection[str] | None]
    # Everybody in a queue in app_queue now (live callers and placeholders, by channel id).
    _waiting: Callable[[str], list[Place]]
    _joins: dict[str, asyncio.Event]  # ;1 placed, QueueCallerJoin due

    async def place_due(self) -> int:
        """Claim due callbacks of open tenants and put their placeholders in app_queue:
        queues side by side, each queue's callbacks one after the other in service order.

        Session 4 measured queues side by side worse (the burst of originates delayed the
        nudges while the placeholders' media took both cores); with silent placeholders
        the PBX is idle, and one queue after another could not keep up with 40
        receptionists: windows ran dry and freed receptionists waited for app_queue's own
        recheck (docs/benchmarks.md, session 5)."""
        async with self._lock:
            now = self._clock()
            jobs = await self.leases.claim(now, self._open_tenants(now), per_queue=self._window)
            by_queue: dict[str, list[Job]] = {}
            for claimed in jobs:
                job = with_caller_id(claimed, self._caller_id(claimed.tenant))
                self.jobs[job.id] = job
                by_queue.setdefault(job.queue, []).append(job)
            # Queues side by side, each queue's placeholders one after the other.
            await asyncio.gather(*(self._place_queue(q, queued) for q, queued in by_queue.items()))
            return len(jobs)

    async def _place_queue(self, queue: str, jobs: list[Job]) -> None:
        """Each placeholder joins at its virtual place among the entries app_queue holds
        now, one after the other: two placeholders originated together may reach Queue() in
        either order, and a position counted with one that has not joined yet (or with one
        the table still shows queued though a receptionist took it a moment ago) lands at
        the end, ahead of an earlier callback that joins after it (bench/callbacks.py saw
        the order broken so)."""
        holding = {o.id: o for o in await self.leases.queued_of(queue)}
        for job in jobs:
            slot = slot_ids(job.id, job.token)[0]
            joined = self._joins[slot] = asyncio.Event()
            try:
                await self._execute(job, dispatch.place(job, self._entries(queue, holding)))
                if job.id in self.jobs:  # placed (a refused originate released it)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(JOIN_S):
                            await joined.wait()
            finally:
                self._joins.pop(slot, None)

    def _entries(self, queue: str, holding: Mapping[int, Job]) -> list[Place]:
        """app_queue's entries now, each placeholder with its callback's own place."""
        places = []
        for place in self._waiting(queue):
            ref = parse_channel_id(place.key)
            job = None
            if ref is not None and ref.role == "slot":
                job = holding.get(ref.job_id) or self.jobs.get(ref.job_id)
            places.append(job.as_place() if job is not None else place)
        return places
