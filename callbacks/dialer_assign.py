"""The dialler's part for assigned callbacks (:mod:`callbacks.assignment`) and expiry.

Assigned: when its receptionist is free (the live state's member status), the callback's
placeholder rings that receptionist directly; the rest (``DialEnd`` ANSWER → the lease
fence → ``callback.offered`` → the customer) is the dialler's usual path. Expired: past
``expires_at`` before anyone dialled it, it ends as ``expired`` (``callback.expired``) and its
waiting placeholder is hung up; the fence in :meth:`~.leases.LeaseStore.begin_attempt`
refuses an expired one anyway, so it is never dialled even between two passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from callbacks import dispatch
from callbacks.assignment import claim_assigned, safe_interface
from callbacks.dialer_core import with_caller_id
from callbacks.dialer_effects import EffectRunner

log = logging.getLogger("callbacks.dialer")


class Assigned(EffectRunner):
    _free_agents: Callable[[], Mapping[str, str]]
    _open_tenants: Callable[[datetime], Collection[str] | None]
    _ring_timeout: int

    async def place_assigned(self) -> int:
        """Ring the free receptionists who have callbacks assigned to them (one each)."""
        ringing = set(self._direct.values())
        free = {
            name: iface
            for name, raw in self._free_agents().items()
            if name not in ringing and (iface := safe_interface(raw)) is not None
        }
        if not free:
            return 0
        now = self._clock()
        claimed = await claim_assigned(self.leases, now, free, self._open_tenants(now))
        for taken, interface in claimed:
            job = with_caller_id(taken, self._caller_id(taken.tenant))
            self.jobs[job.id] = job
            self._direct[job.id] = str(job.context.get("assigned") or "")
            await self._execute(job, dispatch.place_direct(job, interface, self._ring_timeout))
        return len(claimed)

    async def expire_due(self) -> int:
        """Callbacks past their expiry that nobody dials: final outcome ``expired``."""
        gone = await self.leases.expire(self._clock())
        for job, stage in gone:
            self._forget(job.id)
            await self._execute(job, dispatch.expired(job, stage))
        if gone:
            log.info("callbacks expired: %s", ", ".join(str(j.id) for j, _ in gone))
        return len(gone)
