"""The callback dialler: runs :mod:`callbacks.dispatch` against ARI and AMI.

Thin on purpose: it asks the lease store for the fence, the pure dispatcher for effects,
and executes them. Every decision that must survive a crash is in PostgreSQL before the
PBX is asked for anything, so after an app, Redis or Asterisk restart :meth:`reconcile`
rebuilds the picture from the tables and the PBX's live channels:

- placeholder still in app_queue: adopt it; gone (Asterisk restarted): back to pending at
  the same virtual place (not an attempt);
- customer leg still up: adopt it; gone before an answer was stored: attempt
  ``interrupted``, retried at once (the number was never bridged, so it is no double call).

Bus events are best effort (Redis may be down): the console re-reads the REST list.

Parts: :mod:`~callbacks.dialer_core` (its ARI, state), :mod:`~callbacks.dialer_recovery`
(reconcile), :mod:`~callbacks.dialer_effects` (effects over ARI); this module places,
follows the events and guards customer-first calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from callbacks import dispatch
from callbacks import first_store as fs
from callbacks.dialer_assign import Assigned
from callbacks.dialer_core import DialerAri, First, Publisher, with_caller_id
from callbacks.dialer_guard import Guard
from callbacks.dialer_place import Placement
from callbacks.dialer_recovery import Recovery
from callbacks.dispatch import (
    ChannelRef,
    HangUp,
    Job,
    parse_channel_id,
    slot_ids,
)
from callbacks.leases import LeaseStore
from callbacks.ordering import Place
from callbacks.retry import AttemptOutcome, Final, RetryPolicy, classify_hangup
from callcenter.aio import wait_set
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent

log = logging.getLogger(__name__)
# The ARI nudge's digit length (only without an AMI nudge; Asterisk raises anything below
# 100 ms to 100 and first waits 100 ms of "quiet time", so it costs about 200 ms).
NUDGE_MS = 100
Nudge = Callable[[str], Awaitable[object]]
# The media format of the Local pairs the dialler creates (placeholder, customer leg);
# None: the PBX's choice, slin192 for a Local channel. It mattered while a waiting
# placeholder streamed Queue()'s in-band ring tone through the pair (8 kHz converted to
# slin192: 40 placeholders took 126-174 % of a core); since session 5 a placeholder waits
# in silence (tone-less zone, extensions.conf [cc-callback-queue]): 200 waiting cost the
# PBX 3-5 % of a core, so the format no longer matters while it waits (bench/callbacks.py).
SLOT_FORMATS: tuple[str, ...] | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _no_publish(_event: str, _payload: Mapping[str, Any]) -> None:
    return None


class Dialer(Placement, Recovery, Assigned, Guard):
    """One instance's dialler. Feed it AMI events (:meth:`on_ami_event`) and ARI events
    (:meth:`on_ari_event`, and the ``callback-slot`` / ``callback-customer`` Stasis purposes)."""

    def __init__(
        self,
        leases: LeaseStore,
        ari: DialerAri,
        *,
        waiting: Callable[[str], list[Place]],
        open_tenants: Callable[[datetime], Collection[str] | None] = lambda _now: None,
        caller_id: Callable[[str], str | None] = lambda _tenant: None,
        publish: Publisher = _no_publish,
        policy: RetryPolicy | None = None,
        policy_for: Callable[[str], RetryPolicy | None] = lambda _tenant: None,
        mode_for: Callable[[str], str] = lambda _tenant: "agent_first",
        position_of: Callable[[str, str], int | None] = lambda _queue, _channel: None,
        guard_media: Callable[[Job], Sequence[str]] = lambda _job: (),
        guard_timeout_s: float = 6.0,
        guard_plays: int = 2,
        ready: Callable[[], bool] = lambda: True,
        free_agents: Callable[[], Mapping[str, str]] = dict,
        nudge: Nudge | None = None,
        nudge_ms: int = NUDGE_MS,
        slot_formats: tuple[str, ...] | None = SLOT_FORMATS,
        endpoint: str = "Local/{number}@cc-transfer/n",
        window: int | None = 5,
        ring_timeout_s: int = 30,
        tick_s: float = 1.0,
        reconcile_s: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.leases = leases
        self._ari = ari
        self._waiting = waiting
        self._open_tenants = open_tenants
        self._caller_id = caller_id
        self._publish = publish
        self.policy = policy or RetryPolicy()
        self._policy_for = policy_for  # the tenant's own ([callbacks] of its file)
        self._mode_for = mode_for  # "agent_first" or "customer_first", per tenant
        self._position_of = position_of  # a placeholder's place in app_queue now (1 = head)
        self._guard_media = guard_media  # "press 1 to be connected", per language
        self._guard_timeout_s = guard_timeout_s
        self._guard_plays = guard_plays
        # False while this instance's ARI events are not connected (starting, or another
        # instance holds the ARI application): placing then would create placeholders
        # whose ;2 cannot enter our Stasis, and reconciling would misread the PBX.
        self._ready = ready
        # Receptionists free now (member name → interface), for assigned callbacks.
        self._free_agents = free_agents
        self._direct: dict[int, str] = {}
        # Wakes a placeholder waiting in app_queue: given a ;1 id, makes it *receive* a
        # '#' (AMI PlayDTMF Receive), which app_queue's digit wait returns at once.
        self._nudge_via = nudge
        self._nudge_ms = nudge_ms
        self._slot_formats = slot_formats
        self._first: dict[int, First] = {}  # customer-first attempts in progress
        self._slot_arrival: dict[str, asyncio.Event] = {}  # ;2 created, StasisStart due
        self._joins: dict[str, asyncio.Event] = {}  # ;1 placed, QueueCallerJoin due
        self._endpoint = endpoint
        self._window = window
        self._ring_timeout = ring_timeout_s
        self._tick_s = tick_s
        self._reconcile_s = reconcile_s
        self._clock = clock
        self.jobs: dict[int, Job] = {}  # callbacks this instance drives now
        self._attempt: dict[int, int] = {}  # job id → attempt being dialled
        self._answered: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one claim/placement pass at a time per instance
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        self.dialled: list[str] = []  # customer channel ids this instance originated

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="callback-dialer")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drop_slot(self, channel_id: str) -> None:
        """Hang up a placeholder whose callback was changed (cancelled, moved)."""
        ref = parse_channel_id(channel_id)
        if ref is not None:
            self.jobs.pop(ref.job_id, None)
            self._direct.pop(ref.job_id, None)
        with contextlib.suppress(AriError):
            await self._ari.hangup(channel_id)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_reconcile = 0.0
        first = True
        while True:
            if not self._ready():
                await asyncio.sleep(self._tick_s)
                continue
            try:
                if loop.time() >= next_reconcile:
                    await self.expire_due()
                    await self.reconcile(mine=first)
                    await self.leases.renew(self._clock())
                    first = False
                    next_reconcile = loop.time() + self._reconcile_s
                await self.place_due()
                await self.place_assigned()
                await self.dial_first_due()
            except Exception:  # the database or the PBX is away: retry on the next tick
                log.exception("callback dialer pass failed")
            self._wake.clear()
            await wait_set(self._wake, self._tick_s)

    # ------------------------------------------------------------------ events
    async def on_ami_event(self, msg: Message) -> None:
        if msg.name == "AgentConnect":
            self._spawn(self._agent_connect(msg))
        elif msg.name == "QueueCallerJoin":
            joined = self._joins.get(msg.get("Uniqueid") or "")
            if joined is not None:
                joined.set()
        elif (
            msg.name == "QueueMemberStatus"
            and msg.get("Status") == "1"  # AST_DEVICE_NOT_INUSE: a receptionist is free
            and msg.get("Paused", "0") == "0"
        ):
            self._spawn(self._nudge(msg.get("Queue") or ""))
            self.wake()  # a callback assigned to this receptionist may be waiting

    async def _nudge(self, queue: str) -> None:
        """Wake the queue's first placeholder: app_queue re-checks a waiting caller's turn
        only once a second (RECHECK; the head caller every ``retry`` seconds), but at once
        when the caller sends a key. A ``#`` (no extension in ``[cc-queue-exit]``, so it is
        ignored as an exit) received by ``;1`` in the queue: the free receptionist is
        offered the callback now instead of up to a second or two later.

        How the ``#`` gets there decides most of the dispatch time (bench/callbacks.py):
        ARI's DTMF into ``;2`` waits 100 ms of "quiet time" and plays at least 100 ms before
        ``;1`` sees its end (p50 222 ms from the request to app_queue ringing the member);
        AMI ``PlayDTMF`` with ``Receive`` queues the digit's end on ``;1`` itself."""
        waiting = [
            j
            for j in self.jobs.values()
            if j.queue == queue and j.id not in self._attempt and j.id not in self._direct
        ]
        if not waiting or not self._ready():
            return
        head = min(waiting, key=lambda j: (-j.priority, j.arrival, j.id))
        slot, other = slot_ids(head.id, head.token)
        if self._nudge_via is not None:
            try:
                await self._nudge_via(slot)
            except Exception as exc:  # AMI away: app_queue's own recheck still comes
                log.info("callback %s: nudge failed: %s", head.id, exc)
            return
        with contextlib.suppress(AriError):
            await self._ari.send_dtmf(other, "#", duration=self._nudge_ms)

    async def _agent_connect(self, msg: Message) -> None:
        ref = parse_channel_id(msg.get("Uniqueid") or "")
        if ref is None or ref.role != "slot":
            return
        # AMI may be back before ARI after a restart: a receptionist who took a placeholder
        # then waits until this instance can drive the call (and has adopted it), instead
        # of the customer being dialled into a Stasis application nobody listens to.
        if not await self._until_ready():
            return
        async with self._job_lock(ref.job_id):
            await self._offer(ref, msg.get("MemberName") or msg.get("Interface") or "")

    async def _offer(self, ref: ChannelRef, agent: str) -> None:
        """A receptionist took the callback (``ref``: its placeholder, naming the token)."""
        first = self._first.get(ref.job_id)
        job = self.jobs.get(ref.job_id)
        if first is not None and job is not None and job.token == ref.number:
            await self._first_agent(job, first, agent)
            return
        began = await self.leases.begin_attempt(ref.job_id, ref.number, agent, self._clock())
        if began is None:  # another instance took it, the token is stale, or it expired
            await self.expire_due()
            if not await self.leases.slot_current(ref.job_id, ref.number):
                # Cancelled or moved meanwhile: free the receptionist at once.
                with contextlib.suppress(AriError):
                    await self._ari.hangup(slot_ids(ref.job_id, ref.number)[1])
            return
        job, attempt = began
        await self._slot_in_stasis(slot_ids(job.id, job.token)[1])
        job = with_caller_id(job, self._caller_id(job.tenant))
        self.jobs[job.id] = job
        self._attempt[job.id] = attempt
        if self._mode_for(job.tenant) == "customer_first":  # taken before it was dialled
            self._first[job.id] = First(attempt, agent)
            await fs.mark_first(self.leases, job.id, attempt, agent)
        self.wake()  # the window moves: place the next callback of this queue now
        await self._execute(job, dispatch.offer(job, attempt, agent, self._ring_timeout))

    async def on_stasis_start(self, event: AriEvent) -> None:
        """``callback-slot`` (the placeholder's ``;2`` can now be rung and bridged) and
        ``callback-customer`` (the customer answered)."""
        arrived = self._slot_arrival.pop(event.channel_id or "", None)
        if arrived is not None:
            arrived.set()
        self._spawn(self._stasis_start(event))

    async def _stasis_start(self, event: AriEvent) -> None:
        ref = parse_channel_id(event.channel_id or "")
        if ref is not None and ref.role == "slot-b" and ref.job_id in self._direct:
            # An assigned callback's receptionist answered their phone: they take it.
            async with self._job_lock(ref.job_id):
                await self._offer(ref, self._direct.get(ref.job_id, ""))
            return
        if ref is None or ref.role != "customer":
            return
        async with self._job_lock(ref.job_id):
            await self._customer_answered(event, ref.job_id, ref.number)

    async def _customer_answered(self, event: AriEvent, job_id: int, attempt: int) -> None:
        job = self.jobs.get(job_id)
        first = self._first.get(job_id)
        if job is not None and first is not None and first.attempt == attempt:
            if not first.up:  # the guard: nothing is bridged before the customer presses 1
                await self._first_up(job, first)
            return
        if job is None or not await self.leases.answered(job_id, attempt, self._clock()):
            with contextlib.suppress(AriError):
                await self._ari.hangup(event.channel_id or "")
            return
        self._answered.add(job_id)
        await self._execute(job, dispatch.connect(job, attempt))

    async def on_ari_event(self, event: AriEvent) -> None:
        if event.type == "ChannelDestroyed" and event.channel_id:
            self._spawn(self._destroyed(event))
        elif event.type == "ChannelDtmfReceived" and event.digit == "1" and self._first:
            ref = parse_channel_id(event.channel_id or "")
            if ref is not None and ref.role == "customer" and ref.job_id in self._first:
                self._spawn(self._guard_confirmed(ref.job_id, ref.number))
        elif event.type == "PlaybackFinished" and event.playback is not None and self._first:
            for job_id, first in list(self._first.items()):
                if first.playback == event.playback.id and not first.confirmed:
                    first.playback = None
                    self._arm_guard(job_id, first)

    async def _destroyed(self, event: AriEvent) -> None:
        ref = parse_channel_id(event.channel_id or "")
        if ref is None:
            return
        async with self._job_lock(ref.job_id):
            await self._on_destroyed(event, ref)

    async def _on_destroyed(self, event: AriEvent, ref: ChannelRef) -> None:
        job = self.jobs.get(ref.job_id)
        now = self._clock()
        if ref.role == "customer":
            await self._customer_gone(ref.job_id, ref.number, int(event.raw.get("cause", 0)), now)
        elif ref.role == "slot-b" and job is not None and job.token == ref.number:
            attempt = self._attempt.get(job.id)
            if attempt is None:  # still waiting (queue or receptionist): keep the place
                if await self.leases.release(job.id, job.token, now):
                    self.jobs.pop(job.id, None)
                    self._direct.pop(job.id, None)
                    self.wake()
            else:  # the receptionist hung up: end the customer leg too
                with contextlib.suppress(AriError):
                    await self._ari.hangup(dispatch.customer_channel_id(job.id, attempt))

    async def _customer_gone(self, job_id: int, attempt: int, cause: int, now: datetime) -> None:
        job = self.jobs.get(job_id)
        if job_id in self._answered:
            self._answered.discard(job_id)
            # Customer first: confirmed, then hung up before a receptionist took it.
            await fs.completed(self.leases, job_id, attempt, now, hung_up=True)
            if job is not None:  # the conversation is over: free the receptionist
                await self._execute(job, [HangUp(slot_ids(job.id, job.token)[1])])
            self._forget(job_id)
            return
        first = self._first.get(job_id)
        outcome: AttemptOutcome = (
            "machine"  # answered, but the guard's 1 never came
            if first is not None and first.attempt == attempt and first.up
            else classify_hangup(cause, answered=False)
        )
        policy = self._retry_policy(job.tenant if job is not None else "")
        decision = await self.leases.ended(
            job_id, attempt, outcome, cause=str(cause), now=now, policy=policy
        )
        if decision is None or job is None:
            self._forget(job_id)
            return
        final = decision.outcome if isinstance(decision, Final) else None
        due = None if isinstance(decision, Final) else decision.due_at
        await self._execute(job, dispatch.end(job, attempt, outcome, final, due))
        self._forget(job_id)
        self.wake()
