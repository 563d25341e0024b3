"""The dialler after a restart or take-over: its callbacks checked against the PBX.

Placeholder still in app_queue: adopted; gone: back to pending at the same virtual place.
Customer leg still up: adopted; gone before an answer was stored: attempt ``interrupted``.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from callbacks import dispatch
from callbacks.dialer_core import DialerState, with_caller_id
from callbacks.dispatch import slot_ids
from callbacks.leases import Held
from callbacks.models import WAITING
from callcenter.pbx.ari.errors import AriError

log = logging.getLogger("callbacks.dialer")


class Recovery(DialerState):
    async def on_ari_connected(self) -> None:
        """ARI (re)connected: Asterisk may have restarted, taking placeholders and customer
        legs with it (no ChannelDestroyed reaches us then): check this owner's callbacks."""
        self._spawn(self._reconcile_logged())

    async def _reconcile_logged(self) -> None:
        try:
            await self.reconcile(mine=True)
        except Exception:
            log.exception("callback reconcile after ARI reconnect failed")
        self.wake()

    async def reconcile(self, *, mine: bool = False) -> None:
        """Check callbacks whose lease ran out (or, at start, this owner's) against the PBX."""
        now = self._clock()
        for held in await self.leases.expired_leases(now, mine=mine):
            if held.id in self.jobs and not mine:
                continue
            await self._reconcile_one(held, now)

    async def _reconcile_one(self, held: Held, now: datetime) -> None:
        if held.stage in WAITING:
            # A direct one (assigned) has no ;1: its receptionist's channel is the "b" id.
            slot = slot_ids(held.id, held.token)[0 if held.stage == "queued" else 1]
            if await self._exists(slot):
                job = await self.leases.adopt(held.id, held.token, now)
                if job is not None:
                    self.jobs[job.id] = with_caller_id(job, self._caller_id(job.tenant))
                    if held.stage == "direct":  # still ringing its receptionist
                        self._direct[job.id] = str(job.context.get("assigned") or "")
            else:
                await self.leases.release(held.id, held.token, now)
                self.jobs.pop(held.id, None)
        elif held.stage in ("ringing", "confirmed"):
            customer = dispatch.customer_channel_id(held.id, held.attempts)
            alive = await self._exists(customer)
            if alive and not await self._exists(slot_ids(held.id, held.token)[1]):
                # Its placeholder went while no app listened: nobody can ever be bridged
                # with the customer, who would wait on hold for good. End that leg; the
                # attempt counts as interrupted and is retried.
                with contextlib.suppress(AriError):
                    await self._ari.hangup(customer)
                alive = False
            if alive:
                job = await self.leases.adopt(held.id, held.token, now)
                if job is not None:
                    job = with_caller_id(job, self._caller_id(job.tenant))
                    self.jobs[job.id] = job
                    self._attempt[job.id] = held.attempts
                    # Customer first resumes from the tables; agent first needs nothing:
                    # its StasisStart or ChannelDestroyed follows.
                    await self._resume_first(job, held.attempts)
                return
            policy = self._retry_policy(held.tenant)
            await self.leases.ended(
                held.id, held.attempts, "interrupted", cause=None, now=now, policy=policy
            )
            with contextlib.suppress(AriError):  # a receptionist may still hold the slot
                await self._ari.hangup(slot_ids(held.id, held.token)[1])
            self._forget(held.id)

    async def _exists(self, channel_id: str) -> bool:
        try:
            await self._ari.channel(channel_id)
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return True
