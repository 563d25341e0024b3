"""The callback dispatcher's state machine: what to ask the PBX for at each step.

Rule of this module: pure functions from a callback (:class:`Job`) and what just happened
to a list of effects; no I/O. The runner (:mod:`callbacks.dialer`) has already
passed the durable fence (lease token, see :mod:`callbacks.leases`) before it
asks for effects, and executes them in order.

A callback's life, agent-first (the default):

1. ``place``: a placeholder enters app_queue at the callback's virtual place
   (``Queue()``'s ``position`` argument, :func:`~callbacks.ordering.queue_position`).
   It is a ``Local/`` channel: half ``;1`` waits in the queue, half ``;2`` waits in Stasis.
   app_queue then does the rest of the fairness: live callers who come later join behind
   it, VIPs ahead, and it is offered to a receptionist only when it is at the head and a
   receptionist is free -- so never more callbacks in progress than free receptionists.
2. ``offer``: a receptionist answered the placeholder (AMI ``AgentConnect``); the console
   has the callback's context (bus event ``callback.offered``) and the receptionist hears
   ringing while the customer is dialled with the tenant's number as caller id.
3. ``connect``: the customer answered: customer and placeholder ``;2`` share a bridge.
4. ``end``: the customer leg ended unanswered: the placeholder is hung up (the receptionist
   is free again) and the retry policy decides.

Channel ids are deterministic (slot: lease token; customer: attempt number), so Asterisk
itself refuses a second placeholder or a second dial of the same attempt while the first
exists: the PBX is the last fence against a double dial.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from callbacks.ordering import Place, queue_position

SLOT_CONTEXT = "cc-callback-slot"  # ;2 of the placeholder: Answer, Stasis
QUEUE_CONTEXT = "cc-callback-queue"  # ;1 of the placeholder: Queue() at a position
PURPOSE_SLOT = "callback-slot"
PURPOSE_CUSTOMER = "callback-customer"

# Asterisk checks a new channel id against existing ones by *prefix* (``cb-1-a1`` would
# clash with a live ``cb-1-a12``), so every id ends in a letter after its last number.
_SLOT = re.compile(r"^cbq-(\d+)-(\d+)-([ab])$")
_CUSTOMER = re.compile(r"^cb-(\d+)-a(\d+)-c$")


@dataclass(frozen=True, slots=True)
class Job:
    """A callback as the dispatcher holds it under a lease."""

    id: int
    token: int
    tenant: str
    number: str  # E.164, passed the destination policy
    queue: str
    language: str
    priority: int
    arrival: datetime
    attempts: int = 0
    caller_id: str | None = None  # the tenant's number, shown to the customer
    context: Mapping[str, Any] = field(default_factory=dict)  # for the console

    @property
    def place_key(self) -> str:
        return f"cb-{self.id}"

    def as_place(self) -> Place:
        return Place(self.place_key, self.priority, self.arrival.timestamp(), callback=True)


def slot_ids(job_id: int, token: int) -> tuple[str, str]:
    """ARI ids of the placeholder's halves: ``;1`` (in the queue) and ``;2`` (in Stasis)."""
    return f"cbq-{job_id}-{token}-a", f"cbq-{job_id}-{token}-b"


def customer_channel_id(job_id: int, attempt: int) -> str:
    return f"cb-{job_id}-a{attempt}-c"


ChannelRole = Literal["slot", "slot-b", "customer"]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    role: ChannelRole
    job_id: int
    number: int  # lease token (slot) or attempt (customer)


def parse_channel_id(channel_id: str) -> ChannelRef | None:
    """Which callback a channel belongs to, from its deterministic id."""
    if m := _SLOT.match(channel_id):
        role: ChannelRole = "slot-b" if m.group(3) == "b" else "slot"
        return ChannelRef(role, int(m.group(1)), int(m.group(2)))
    if m := _CUSTOMER.match(channel_id):
        return ChannelRef("customer", int(m.group(1)), int(m.group(2)))
    return None


# ---- effects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatePlaceholder:
    slot_id: str
    other_id: str
    queue: str
    position: int
    priority: int
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CallDirect:
    """An assigned callback: its receptionist's phone is rung into Stasis (not app_queue)
    under the id of a placeholder's ``;2``, so answering it is taking the callback."""

    channel_id: str
    interface: str
    caller_id: str  # the customer's number, on the receptionist's display
    ring_s: int
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class DialCustomer:
    channel_id: str
    number: str
    caller_id: str | None
    timeout_s: int
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Ring:
    channel_id: str


@dataclass(frozen=True, slots=True)
class Bridge:
    bridge_id: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HangUp:
    channel_id: str


@dataclass(frozen=True, slots=True)
class Publish:
    event: str
    payload: Mapping[str, Any]


Effect = CreatePlaceholder | CallDirect | DialCustomer | Ring | Bridge | HangUp | Publish


def _view(job: Job, **more: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant": job.tenant,
        "queue": job.queue,
        "number": job.number,
        "language": job.language,
        "priority": job.priority,
        "arrival_at": job.arrival.isoformat(),
        "attempts": job.attempts,
        **dict(job.context),
        **more,
    }


def place(job: Job, waiting: Sequence[Place]) -> list[Effect]:
    """Enter the placeholder at the callback's virtual place among ``waiting`` (app_queue's
    entries now: live callers and other placeholders)."""
    slot, other = slot_ids(job.id, job.token)
    position = queue_position(job.as_place(), waiting)
    variables = {
        "CC_CALLBACK_ID": str(job.id),
        "CC_CALLBACK_LEG": "placeholder",
        "CC_TENANT": job.tenant,
        "CC_LANGUAGE": job.language,
        "QUEUE_PRIO": str(job.priority),
        "CC_CB_POSITION": str(position),
    }
    return [
        CreatePlaceholder(slot, other, job.queue, position, job.priority, variables),
        Publish("callback.queued", _view(job, position=position)),
    ]


def place_direct(job: Job, interface: str, ring_s: int) -> list[Effect]:
    """An assigned callback whose receptionist is free: ring that receptionist only."""
    variables = {
        "CC_CALLBACK_ID": str(job.id),
        "CC_CALLBACK_LEG": "placeholder",
        "CC_TENANT": job.tenant,
    }
    return [
        CallDirect(slot_ids(job.id, job.token)[1], interface, job.number, ring_s, variables),
        Publish("callback.queued", _view(job, position=None, direct=interface)),
    ]


def expired(job: Job, stage: str | None) -> list[Effect]:
    """Past its expiry before anyone dialled it: its waiting placeholder (if any) goes."""
    effects: list[Effect] = []
    if stage in ("queued", "direct"):
        effects.append(HangUp(slot_ids(job.id, job.token)[1]))  # the token it had
    effects.append(Publish("callback.expired", _view(job, outcome="expired")))
    return effects


def offer(job: Job, attempt: int, agent: str, ring_timeout_s: int) -> list[Effect]:
    """A receptionist took the placeholder: show the context, then dial the customer."""
    _, other = slot_ids(job.id, job.token)
    channel = customer_channel_id(job.id, attempt)
    variables = {
        "CC_CALLBACK_ID": str(job.id),
        "CC_CALLBACK_LEG": "customer",
        "CC_TENANT": job.tenant,
    }
    return [
        Publish("callback.offered", _view(job, attempt=attempt, agent=agent)),
        Ring(other),
        DialCustomer(channel, job.number, job.caller_id, ring_timeout_s, variables),
    ]


def dial_first(job: Job, attempt: int, ring_timeout_s: int) -> list[Effect]:
    """Customer first: the placeholder reached the head of the queue; the customer is
    dialled before any receptionist takes it. Answered, the customer hears "press 1 to be
    connected" (the guard, run by the dialler); only a confirmed customer is ever bridged
    with a receptionist, so an answering machine never gets one."""
    channel = customer_channel_id(job.id, attempt)
    variables = {
        "CC_CALLBACK_ID": str(job.id),
        "CC_CALLBACK_LEG": "customer",
        "CC_TENANT": job.tenant,
    }
    return [
        Publish("callback.dialling", _view(job, attempt=attempt, mode="customer_first")),
        DialCustomer(channel, job.number, job.caller_id, ring_timeout_s, variables),
    ]


def offered(job: Job, attempt: int, agent: str) -> Publish:
    """The console's notice: a receptionist took the callback (before the customer talks)."""
    return Publish("callback.offered", _view(job, attempt=attempt, agent=agent))


def connect(job: Job, attempt: int) -> list[Effect]:
    _, other = slot_ids(job.id, job.token)
    channel = customer_channel_id(job.id, attempt)
    return [
        Bridge(f"cbb-{job.id}-a{attempt}", (other, channel)),
        Publish("callback.connected", _view(job, attempt=attempt)),
    ]


def end(
    job: Job, attempt: int, outcome: str, final: str | None, due_at: datetime | None
) -> list[Effect]:
    """The customer leg ended without answer: free the receptionist, report the result."""
    _, other = slot_ids(job.id, job.token)
    event = "callback.finished" if final else "callback.retry"
    more: dict[str, Any] = {"attempt": attempt, "attempt_outcome": outcome}
    if final:
        more["outcome"] = final
    if due_at is not None:
        more["due_at"] = due_at.isoformat()
    return [HangUp(other), Publish(event, _view(job, **more))]
