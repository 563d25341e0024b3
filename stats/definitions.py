"""Metric definitions (GUIDE §5): what one finished call contributes, and the figures.

Rule of this module: it is pure (no I/O, no database). Every counted figure is defined here
once, named as in the UI help (:data:`HELP`), and used by the rollups, the reports, the
billing export and the live "today" figures alike.

Two levels, following QueueMetrics' multi-stint rule:

* **call level** (the tenant's view): a call that passed through several queues (overflow,
  transfer back to a queue) is *one* call. Its outcome is the call row's (answer wins over a
  rule, a rule over the caller), its wait the sum of its queue waits (IVR time excluded).
* **leg level** (each queue's view): every stint in a queue is offered to that queue and
  ends there as answered, abandoned, timeout, blocked or diverted, so a call that timed out
  in ``q-a`` and was answered in ``q-b`` is a timeout for ``q-a``, an answer for ``q-b`` and
  one answered call for the tenant.

Where we differ from Asterisk's own ``QueueParams``: Asterisk counts every unanswered exit
as *Abandoned*, a queue timeout and a caller withdrawn for a callback included; we count
``timeout`` (the caller did not give up) and ``diverted`` (callbacks are never abandons)
apart from ``abandoned`` (the caller hung up). See ``stats.reconcile.queue_params_view``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from callcenter.state.records import CallRecord

LegOutcome = Literal["answered", "abandoned", "timeout", "blocked", "diverted", "lost"]
Grain = Literal["tenant", "queue", "agent"]

# QUEUESTATUS values app_queue leaves when Queue() returns without an agent.
_TIMEOUT = frozenset({"TIMEOUT"})
_BLOCKED = frozenset({"FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"})


@dataclass(frozen=True, slots=True)
class Settings:
    """A tenant's counting thresholds (seconds); changing them needs a rollup rebuild."""

    service_level_seconds: int = 20  # answered within T counts for the service level
    short_abandon_seconds: int = 5  # abandoned within N s: "short abandon"
    billable_after_seconds: int = 15  # an answered call is billed once talk reaches N s
    wrapup_seconds: int = 0  # after-call work billed per answered call (note writing)

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3600:
                raise ValueError(f"{f.name} must be a whole number of seconds in 0..3600")


@dataclass(frozen=True, slots=True)
class Leg:
    """One stint of a call in one queue."""

    queue: str
    wait: float
    outcome: LegOutcome
    uniqueid: str | None = None  # the queued channel (queue_log's callid)


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What one call row means for the statistics (derived by :func:`facts`)."""

    offered: bool  # reached a queue (entered it or was refused by it)
    outcome: str  # call-level outcome (records.Outcome)
    wait: float  # sum of queue waits
    talk: float
    agent: str | None
    legs: tuple[Leg, ...]
    diverted_to: str | None  # "voicemail" | "callback" | None


def _leg_outcome(stint: Mapping[str, Any], last: bool, call_outcome: str) -> LegOutcome:
    if stint.get("answered"):
        return "answered"
    status = str(stint.get("status") or "").upper()
    if status in _TIMEOUT:
        return "timeout"
    if status in _BLOCKED:
        return "blocked"
    if status == "WITHDRAW":
        return "diverted"
    if last:
        # The last stint ends the way the call ended (abandoned, lost, diverted).
        if call_outcome in ("abandoned", "lost", "diverted", "timeout", "blocked"):
            return call_outcome  # type: ignore[return-value]
        if stint.get("abandoned"):
            return "abandoned"
        return "diverted"
    # Left this queue alive for another one without a status: moved on by the dialplan.
    return "diverted"


def legs_of(record: CallRecord) -> tuple[Leg, ...]:
    """The call's queue stints: from ``extra["stints"]`` (live state), else one leg from
    the row itself (rows written before stints were recorded)."""
    stints = record.extra.get("stints")
    if isinstance(stints, list) and stints:
        out = []
        for i, s in enumerate(stints):
            if not isinstance(s, Mapping) or not s.get("queue"):
                continue
            out.append(
                Leg(
                    queue=str(s["queue"]),
                    wait=max(0.0, float(s.get("wait") or 0.0)),
                    outcome=_leg_outcome(s, i == len(stints) - 1, record.outcome),
                    uniqueid=s.get("uniqueid"),
                )
            )
        return tuple(out)
    if record.queue and (record.queued_at is not None or record.outcome == "blocked"):
        outcome: LegOutcome = "diverted" if record.outcome == "ivr" else record.outcome
        return (Leg(record.queue, record.wait_seconds or 0.0, outcome),)
    return ()


def diverted_to(record: CallRecord) -> str | None:
    """``voicemail`` or ``callback`` when a rule or the caller sent the call there."""
    cc = str(record.extra.get("cc_outcome") or "").lower()
    if cc in ("voicemail", "callback"):
        return cc
    if str(record.extra.get("queue_status") or "").upper() == "WITHDRAW":
        return "callback"  # withdrawn from the queue: only the callback feature does that
    return None


def facts(record: CallRecord) -> CallFacts:
    """Derive the counted facts of one call row."""
    legs = legs_of(record)
    offered = bool(legs) or record.outcome == "blocked"
    wait = sum(leg.wait for leg in legs) if legs else (record.wait_seconds or 0.0)
    return CallFacts(
        offered=offered,
        outcome=record.outcome,
        wait=wait,
        talk=record.talk_seconds or 0.0,
        agent=record.agent if record.outcome == "answered" else None,
        legs=legs,
        diverted_to=diverted_to(record),
    )


@dataclass(slots=True)
class Counters:
    """Additive counts for one grain and period (one rollup row, or a sum of them)."""

    offered: int = 0  # entered a queue (or was refused by it)
    answered: int = 0  # an agent connected
    answered_in_sl: int = 0  # answered with wait <= service_level_seconds
    abandoned: int = 0  # the caller hung up while waiting
    abandoned_short: int = 0  # ... within short_abandon_seconds
    timeout: int = 0  # left by the queue's timeout
    blocked: int = 0  # refused or dropped by the queue (joinempty/leaveempty/full)
    diverted: int = 0  # sent to voicemail or callback by a rule or the caller's choice
    lost: int = 0  # the PBX went away while the call was queued or up
    voicemail: int = 0  # diverted to voicemail (any level, also from the IVR)
    callback: int = 0  # diverted to a callback (requested; never an abandon)
    not_offered: int = 0  # ended in the IVR/announcement without reaching a queue
    billable: int = 0  # answered with talk >= billable_after_seconds
    wait_answered: float = 0.0  # seconds, summed over answered
    wait_max: float = 0.0  # longest wait of any offered call
    talk: float = 0.0  # seconds, summed over answered (hold is part of talk)
    handled: float = 0.0  # talk + wrap-up, seconds, summed over answered

    def add(self, other: Counters) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.wait_max = max(self.wait_max, other.wait_max)

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in COUNTER_NAMES}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Counters:
        return cls(**{name: values[name] for name in COUNTER_NAMES if name in values})


COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Counters))
_SUMMED = tuple(name for name in COUNTER_NAMES if name != "wait_max")


def _count_end(c: Counters, outcome: str, wait: float, settings: Settings) -> None:
    if outcome == "answered":
        c.answered += 1
        c.wait_answered += wait
        if wait <= settings.service_level_seconds:
            c.answered_in_sl += 1
    elif outcome == "abandoned":
        c.abandoned += 1
        if wait < settings.short_abandon_seconds:
            c.abandoned_short += 1
    elif outcome in ("timeout", "blocked", "diverted", "lost"):
        setattr(c, outcome, getattr(c, outcome) + 1)


def _answered_extras(c: Counters, f: CallFacts, settings: Settings) -> None:
    c.talk += f.talk
    c.handled += f.talk + settings.wrapup_seconds
    if f.talk >= settings.billable_after_seconds:
        c.billable += 1


def call_counters(f: CallFacts, settings: Settings) -> Counters:
    """The tenant-level contribution of one call (multi-stint rule: one call)."""
    c = Counters()
    if f.diverted_to == "voicemail":
        c.voicemail = 1
    elif f.diverted_to == "callback":
        c.callback = 1
    if not f.offered:
        c.not_offered = 1
        return c
    c.offered = 1
    c.wait_max = f.wait
    outcome = f.outcome if f.outcome != "ivr" else "diverted"
    _count_end(c, outcome, f.wait, settings)
    if outcome == "answered":
        _answered_extras(c, f, settings)
    return c


def leg_counters(leg: Leg, f: CallFacts, settings: Settings) -> Counters:
    """One queue's view of one stint. Talk is the call's (app_queue has one talk per call)."""
    c = Counters(offered=1, wait_max=leg.wait)
    _count_end(c, leg.outcome, leg.wait, settings)
    if leg.outcome == "answered":
        _answered_extras(c, f, settings)
    if leg.outcome == "diverted" and f.diverted_to == "voicemail":
        c.voicemail = 1
    elif leg.outcome == "diverted" and f.diverted_to == "callback":
        c.callback = 1
    return c


def contributions(record: CallRecord, settings: Settings) -> Iterable[tuple[Grain, str, Counters]]:
    """Everything one call adds to the rollups: ``(grain, key, counters)``.

    ``tenant`` once with key ``""``; ``queue`` once per leg (key = queue name); ``agent``
    once for an answered call (key = the receptionist who has it in the row).
    """
    if record.extra.get("callback_leg"):
        # A callback's placeholder or customer leg: the caller who asked was counted once,
        # as diverted to a callback (never an abandon); its dialling is in callback_requests.
        return
    f = facts(record)
    yield "tenant", "", call_counters(f, settings)
    for leg in f.legs:
        yield "queue", leg.queue, leg_counters(leg, f, settings)
    if f.agent:
        c = Counters(offered=1, wait_max=f.wait)
        _count_end(c, "answered", f.wait, settings)
        _answered_extras(c, f, settings)
        yield "agent", f.agent, c


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den > 0 else None


@dataclass(frozen=True, slots=True)
class Figures:
    """Derived figures (ratios in 0..1, seconds); ``None`` where the divisor is zero."""

    service_level: float | None  # answered in T ÷ (offered − short abandons)
    service_level_all: float | None  # answered in T ÷ offered (short abandons counted)
    service_level_answered: float | None  # answered in T ÷ answered (QueueParams' Perf)
    asa: float | None  # wait of answered ÷ answered
    aht: float | None  # (talk + hold + wrap-up) ÷ answered
    abandon_rate: float | None  # abandoned ÷ offered
    abandon_rate_long: float | None  # (abandoned − short) ÷ (offered − short)
    longest_wait: float
    handled_minutes: float
    counters: dict[str, float | int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "counters"}
        return {**self.counters, **out}


def figures(c: Counters) -> Figures:
    """The report figures of a sum of counters (GUIDE §5)."""
    counted = c.offered - c.abandoned_short
    asa = c.wait_answered / c.answered if c.answered else None
    aht = c.handled / c.answered if c.answered else None
    return Figures(
        service_level=_ratio(c.answered_in_sl, counted),
        service_level_all=_ratio(c.answered_in_sl, c.offered),
        service_level_answered=_ratio(c.answered_in_sl, c.answered),
        asa=None if asa is None else round(asa, 2),
        aht=None if aht is None else round(aht, 2),
        abandon_rate=_ratio(c.abandoned, c.offered),
        abandon_rate_long=_ratio(c.abandoned - c.abandoned_short, counted),
        longest_wait=round(c.wait_max, 2),
        handled_minutes=round(c.handled / 60.0, 2),
        counters={k: round(v, 3) if isinstance(v, float) else v for k, v in c.as_dict().items()},
    )


def N_(message: str) -> str:
    """Marks a help text for the web application's catalogue (translated where shown)."""
    return message


HELP: dict[str, str] = {
    "offered": N_(
        "Calls that entered a queue (or were refused by it). A call through several "
        "queues is one call for the tenant and one leg for each queue."
    ),
    "answered": N_(
        "Calls a receptionist took. For the tenant a call counts as answered where it "
        "was answered in the end (multi-stint rule)."
    ),
    "abandoned": N_("The caller hung up while waiting in the queue. Callbacks are never abandons."),
    "abandoned_short": N_("Abandoned within the short-abandon threshold (N seconds)."),
    "timeout": N_(
        "Left by the queue's timeout (Asterisk's QueueParams counts these, like every "
        "unanswered exit, as Abandoned)."
    ),
    "blocked": N_(
        "Refused or dropped by the queue: no receptionist logged in (joinempty/"
        "leaveempty) or the queue full."
    ),
    "diverted": N_("Sent to voicemail or a callback by a rule or the caller's choice."),
    "voicemail": N_("Calls that went to voicemail."),
    "callback": N_("Calls that left the queue for a callback (requested)."),
    "service_level": N_(
        "Answered within T seconds ÷ (offered − short abandons): QueueMetrics' "
        "inclusive SLA with short abandons excluded."
    ),
    "service_level_all": N_("Answered within T seconds ÷ offered (short abandons counted)."),
    "service_level_answered": N_(
        "Answered within T seconds ÷ answered (answered-only SLA; QueueParams' ServicelevelPerf)."
    ),
    "asa": N_("Average speed of answer: total wait of answered calls ÷ answered (seconds)."),
    "aht": N_("Average handling time: (talk + hold + wrap-up) ÷ answered; hold is inside talk."),
    "abandon_rate": N_("Abandoned ÷ offered."),
    "abandon_rate_long": N_("(Abandoned − short abandons) ÷ (offered − short abandons)."),
    "longest_wait": N_("The longest queue wait of any offered call (seconds)."),
    "handled_minutes": N_("Talk + wrap-up of answered calls, counted by the second, in minutes."),
    "billable": N_("Answered calls whose talk reached the billing threshold (e.g. 15 s)."),
    "callbacks": N_(
        "Callback requests: requested, completed (done), failed; their dials: attempts, "
        "reached, failed (answering machines among them)."
    ),
    "notes": N_("Telephone notes taken for the tenant."),
}
