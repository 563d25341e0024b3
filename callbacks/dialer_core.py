"""What the dialler's parts share: the ARI it needs, its state, small state operations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from callbacks.dispatch import Job
from callbacks.leases import LeaseStore
from callbacks.retry import RetryPolicy
from callcenter.aio import wait_set
from callcenter.pbx.ari.ports import (
    Bridging,
    HangingUp,
    LookingUp,
    MusicOnHold,
    Originating,
    Playing,
    Ringing,
    SendingDtmf,
)

log = logging.getLogger("callbacks.dialer")
Publisher = Callable[[str, Mapping[str, Any]], Awaitable[None]]


class DialerAri(
    Originating,
    HangingUp,
    Ringing,
    SendingDtmf,
    Bridging,
    LookingUp,
    Playing,
    MusicOnHold,
    Protocol,
):
    """The ARI requests the dialler makes (:class:`callcenter.pbx.ari.AriRest` has them)."""


@dataclass(slots=True)
class First:
    """A customer-first attempt: the customer is dialled, then must press 1 (the guard)."""

    attempt: int
    agent: str | None = None  # the receptionist who took the placeholder meanwhile
    up: bool = False  # the customer answered: the guard is playing
    confirmed: bool = False  # pressed 1
    plays: int = 0
    playback: str | None = None
    timer: asyncio.Task[None] | None = None


class DialerState:
    """The dialler's state (set up by :class:`callbacks.dialer.Dialer`) and the operations
    on it that its parts (placing, events, recovery, effects) share."""

    leases: LeaseStore
    policy: RetryPolicy
    jobs: dict[int, Job]  # callbacks this instance drives now
    dialled: list[str]  # customer channel ids this instance originated
    _ari: DialerAri
    _clock: Callable[[], datetime]
    _caller_id: Callable[[str], str | None]
    _policy_for: Callable[[str], RetryPolicy | None]
    _publish: Publisher
    _endpoint: str
    _attempt: dict[int, int]  # job id → attempt being dialled
    _first: dict[int, First]  # customer-first attempts in progress
    _direct: dict[int, str]  # assigned callbacks ringing their receptionist: id → name
    _slot_arrival: dict[str, asyncio.Event]  # placeholder ;2 ids whose StasisStart is due
    _ready: Callable[[], bool]  # this instance's ARI events are connected
    _slot_formats: tuple[str, ...] | None  # media formats of a placeholder's Local pair
    _locks: dict[int, asyncio.Lock]
    _tasks: set[asyncio.Task[None]]
    _wake: asyncio.Event

    def wake(self) -> None:
        """A request was stored or changed: place it without waiting for the next tick."""
        self._wake.set()

    def _spawn(self, coro: Any) -> None:
        """Event handlers return at once: the ARI/AMI event loops must never wait for the
        database or an ARI request here."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _slot_in_stasis(self, other: str, timeout_s: float = 5.0) -> None:
        """A receptionist may take a placeholder the moment its ``;1`` joins the queue,
        before its ``;2`` has reached Stasis: ringing and bridging it then fail, and the
        customer would be dialled into a call that can never be bridged (seen in the bench
        under load as 409/422 "not in Stasis application"). Wait for its StasisStart; only
        placeholders this instance just created are waited for."""
        arrived = self._slot_arrival.get(other)
        if arrived is not None:
            await wait_set(arrived, timeout_s)  # not wait_for: it may swallow a cancel
            self._slot_arrival.pop(other, None)

    async def _until_ready(self, timeout_s: float = 30.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self._ready():
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def _job_lock(self, job_id: int) -> asyncio.Lock:
        """Events of one callback are handled one at a time, in arrival order (FIFO lock)."""
        lock = self._locks.get(job_id)
        if lock is None:
            lock = self._locks[job_id] = asyncio.Lock()
        return lock

    def _retry_policy(self, tenant: str) -> RetryPolicy:
        return (self._policy_for(tenant) if tenant else None) or self.policy

    def _forget(self, job_id: int) -> None:
        first = self._first.pop(job_id, None)
        if first is not None and first.timer is not None:
            first.timer.cancel()
        self.jobs.pop(job_id, None)
        self._attempt.pop(job_id, None)
        self._direct.pop(job_id, None)
        lock = self._locks.get(job_id)
        if lock is not None and not lock.locked():
            del self._locks[job_id]

    async def _customer_gone(self, job_id: int, attempt: int, cause: int, now: datetime) -> None:
        raise NotImplementedError  # the dialler's: the attempt's end, retried or final

    async def _resume_first(self, job: Job, attempt: int) -> bool:
        raise NotImplementedError  # the guard's: customer first resumed from the tables


def _log_failure(task: asyncio.Task[Any]) -> None:
    """A handler that failed (the database away or locked, seen in the bench on SQLite under
    load) is logged as such; the lease and the reconciler settle the callback later."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("callback event handler failed", exc_info=exc)


def with_caller_id(job: Job, caller_id: str | None) -> Job:
    if caller_id is None or job.caller_id == caller_id:
        return job
    return replace(job, caller_id=caller_id)
