"""Customer first: the dialler's part that dials the customer when the placeholder reaches
the head of its queue and guards the bridge with "press 1 to be connected".

Only a customer who pressed 1 is ever bridged with a receptionist, so an answering machine
never gets one; no 1 after ``guard_plays`` prompts: hung up, attempt outcome ``machine``.
Each step is stored (:mod:`callbacks.first_store`) before it is acted on, so a restarted
instance resumes it (:meth:`Guard._resume_first`) from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from callbacks import dispatch
from callbacks import first_store as fs
from callbacks.dialer_core import First, with_caller_id
from callbacks.dialer_effects import EffectRunner
from callbacks.dispatch import Job, Ring, slot_ids
from callcenter.pbx.ari.errors import AriError

log = logging.getLogger("callbacks.dialer")


class Guard(EffectRunner):
    _mode_for: Callable[[str], str]
    _position_of: Callable[[str, str], int | None]
    _guard_media: Callable[[Job], Sequence[str]]
    _guard_timeout_s: float
    _guard_plays: int
    _ring_timeout: int
    _answered: set[int]

    async def dial_first_due(self) -> int:
        """Customer first: dial the customers whose placeholder is at the head of its queue
        (before a receptionist is free, so the confirmed customer is waiting when one is)."""
        started = 0
        for job in list(self.jobs.values()):
            if job.id in self._attempt or self._mode_for(job.tenant) != "customer_first":
                continue
            if self._position_of(job.queue, slot_ids(job.id, job.token)[0]) != 1:
                continue
            async with self._job_lock(job.id):
                if job.id in self._attempt or job.id not in self.jobs:
                    continue
                began = await self.leases.begin_attempt(
                    job.id, job.token, "", self._clock(), mode=fs.MODE
                )
                if began is None:
                    continue
                current, attempt = began
                current = with_caller_id(current, self._caller_id(current.tenant))
                self.jobs[current.id] = current
                self._attempt[current.id] = attempt
                self._first[current.id] = First(attempt)
                started += 1
                await self._execute(
                    current, dispatch.dial_first(current, attempt, self._ring_timeout)
                )
        return started

    async def _first_agent(self, job: Job, first: First, agent: str) -> None:
        """Customer first: a receptionist took the placeholder. Bridged at once if the
        customer has pressed 1 (waiting with music), else rung until they do."""
        first.agent = agent
        await fs.taken_by(self.leases, job.id, first.attempt, agent)
        offered = dispatch.offered(job, first.attempt, agent)
        if first.confirmed:
            customer = dispatch.customer_channel_id(job.id, first.attempt)
            with contextlib.suppress(AriError):
                await self._ari.moh_stop(customer)
            await self._execute(job, [offered, *dispatch.connect(job, first.attempt)])
            await fs.completed(self.leases, job.id, first.attempt, self._clock())
        else:
            await self._execute(job, [offered, Ring(slot_ids(job.id, job.token)[1])])

    async def _guard_play(self, job: Job, first: First) -> None:
        customer = dispatch.customer_channel_id(job.id, first.attempt)
        first.plays += 1
        await fs.guard_played(self.leases, job.id, first.attempt, first.plays)
        first.playback = f"{customer}-g{first.plays}"
        try:
            await self._ari.play(
                customer,
                list(self._guard_media(job)),
                lang=job.language,
                playback_id=first.playback,
            )
        except AriError as exc:  # hung up meanwhile: ChannelDestroyed settles it
            log.info("callback %s: guard prompt failed: %s", job.id, exc)

    def _arm_guard(self, job_id: int, first: First) -> None:
        if first.timer is not None:
            first.timer.cancel()

        async def expire() -> None:
            await asyncio.sleep(self._guard_timeout_s)
            first.timer = None
            async with self._job_lock(job_id):
                await self._guard_expired(job_id, first)

        first.timer = asyncio.get_running_loop().create_task(expire())

    async def _guard_expired(self, job_id: int, first: First) -> None:
        job = self.jobs.get(job_id)
        if job is None or first.confirmed or self._first.get(job_id) is not first:
            return
        if first.plays < self._guard_plays:
            await self._guard_play(job, first)
            return
        # Nobody pressed 1: an answering machine (or a person who did not confirm). Hang up;
        # the hangup is settled as outcome "machine" (retry rule of its own).
        with contextlib.suppress(AriError):
            await self._ari.hangup(dispatch.customer_channel_id(job_id, first.attempt))

    async def _guard_confirmed(self, job_id: int, attempt: int) -> None:
        async with self._job_lock(job_id):
            first = self._first.get(job_id)
            job = self.jobs.get(job_id)
            if first is None or job is None or first.attempt != attempt or first.confirmed:
                return
            if not first.up:
                return
            customer = dispatch.customer_channel_id(job_id, attempt)
            if not await fs.confirmed(self.leases, job_id, attempt, self._clock()):
                with contextlib.suppress(AriError):
                    await self._ari.hangup(customer)
                return
            first.confirmed = True
            if first.timer is not None:
                first.timer.cancel()
                first.timer = None
            self._answered.add(job_id)
            if first.playback is not None:
                with contextlib.suppress(AriError):
                    await self._ari.stop_playback(first.playback)
                first.playback = None
            if first.agent is not None:
                await self._execute(job, dispatch.connect(job, attempt))
                await fs.completed(self.leases, job_id, attempt, self._clock())
            else:  # at the head of the queue: music until a receptionist takes it
                with contextlib.suppress(AriError):
                    await self._ari.moh_start(customer)

    async def _first_up(self, job: Job, first: First) -> None:
        """The customer answered: the guard starts (nothing is bridged before the 1)."""
        first.up = True
        await fs.picked_up(self.leases, job.id, first.attempt, self._clock())
        await self._guard_play(job, first)

    async def _resume_first(self, job: Job, attempt: int) -> bool:
        """After a restart or take-over: continue a customer-first attempt from what was
        stored. False: the attempt is agent first."""
        stored = await fs.progress(self.leases, job.id, attempt)
        if stored is None:
            return False
        first = First(attempt, stored.agent, stored.picked_up, stored.confirmed, stored.plays)
        self._first[job.id] = first
        customer = dispatch.customer_channel_id(job.id, attempt)
        if first.confirmed:
            self._answered.add(job.id)
            if first.agent is not None:  # taken just before the restart: bridge them now
                await self._execute(job, dispatch.connect(job, attempt))
                await fs.completed(self.leases, job.id, attempt, self._clock())
            return True  # else music at the head of the queue until a receptionist is free
        with contextlib.suppress(AriError):
            state = (await self._ari.channel(customer)).state
            if state == "Up" and not first.up:  # answered while nobody listened
                await self._first_up(job, first)
                return True
        if first.up:
            # The 1 may have been pressed while nobody listened, and the prompt's timer was
            # lost: ask again (counting the plays already made, machines still end).
            if first.plays < self._guard_plays:
                await self._guard_play(job, first)
            else:
                self._arm_guard(job.id, first)
        return True
