"""A tenant (client company) as parsed from its declarative file: frozen value types only.

Parsing and validation live in :mod:`ivr.loader`; the pure decisions that use these values
live in :mod:`ivr.hours`, :mod:`ivr.routing` and :mod:`ivr.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.phone.numbers import region_of
from callcenter.phone.policy import DestinationPolicy
from ivr.flow import Flow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

OverflowWhen = Literal["no_agents", "wait_over", "callers_over"]
OverflowAction = Literal["callback", "voicemail", "queue"]
CallbackMode = Literal["agent_first", "customer_first"]
CALLBACK_MODES: tuple[CallbackMode, ...] = ("agent_first", "customer_first")
# Attempt outcomes a tenant spaces its retries for ([callbacks] retry_after).
RETRY_OUTCOMES = ("busy", "no_answer", "failed", "machine")


@dataclass(frozen=True, slots=True)
class Interval:
    """Opening interval on one local weekday, in seconds after local midnight: [start, end).

    ``end`` may be 86400 (written ``24:00``). Intervals never cross midnight; a night shift
    is two intervals (``22:00-24:00`` and next day ``00:00-06:00``), which behave as one.
    """

    start: int
    end: int

    def contains(self, second_of_day: int) -> bool:
        return self.start <= second_of_day < self.end


@dataclass(frozen=True, slots=True)
class Closure:
    """A tenant-specific closure in local wall time, [start, end) (e.g. company holidays)."""

    start: datetime  # naive, local to the tenant's time zone
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class HolidayRule:
    """Public holidays of a country and state (``holidays`` package subdivision)."""

    country: str = "DE"
    subdiv: str | None = None
    # Holiday names (as the package spells them in English) on which the tenant still opens.
    open_on: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Did:
    """A phone number of the tenant and where calls to it go."""

    number: str  # E.164
    entry: str | None = None  # IVR node to start in; None: tenant's default entry
    queue: str | None = None  # straight to this queue (no IVR)
    language: str | None = None  # calls to this number are in this language


@dataclass(frozen=True, slots=True)
class StaffMember:
    """Someone at the tenant that calls can be transferred to."""

    id: str
    name: str
    number: str  # E.164
    note: str = ""  # availability note for receptionists ("Mo–Do, not Fridays")


@dataclass(frozen=True, slots=True)
class OverflowRule:
    """When ``when`` holds for a queue, do ``action`` instead of queueing the caller."""

    when: OverflowWhen
    action: OverflowAction
    threshold: int = 0  # seconds for wait_over, callers for callers_over
    queue: str | None = None  # target for action "queue"


@dataclass(frozen=True, slots=True)
class QueueAlerts:
    """When a queue's wallboard tile turns amber and red (``alerts`` in the tenant file).

    ``wait``: longest wait in seconds, ``waiting``: callers waiting (both: at or above the
    value), ``service_level``: today's service level in percent (below the value).
    """

    wait: tuple[float, float] = (30.0, 60.0)
    waiting: tuple[int, int] = (3, 6)
    service_level: tuple[float, float] = (80.0, 60.0)


@dataclass(frozen=True, slots=True)
class QueueRule:
    """A tenant queue in Asterisk's app_queue, with the language/skill it serves."""

    name: str  # the app_queue name
    language: str
    skill: str = "general"
    overflow: tuple[OverflowRule, ...] = ()
    alerts: QueueAlerts | None = None  # None: the tenant's (routing.alerts), else defaults


@dataclass(frozen=True, slots=True)
class RoutingRules:
    queues: tuple[QueueRule, ...]
    language_from_number: bool = False
    # ISO region code of the caller's number → language, used when language_from_number.
    language_by_region: dict[str, str] = field(default_factory=dict)
    vip_numbers: frozenset[str] = frozenset()
    vip_priority: int = 10
    default_priority: int = 0
    voicemail_box: str = ""  # mailbox used after hours and by overflow
    # Queue position announcements: first after this many seconds in the queue, then every
    # ``announce_every`` seconds (0: once); ``announce_after`` 0 turns them off.
    announce_after: float = 30.0
    announce_every: float = 60.0
    # routing.alerts: the default of the tenant's queues
    alerts: QueueAlerts = field(default_factory=QueueAlerts)

    def alerts_for(self, name: str) -> QueueAlerts:
        rule = self.queue(name)
        return rule.alerts if rule is not None and rule.alerts is not None else self.alerts

    def queue(self, name: str) -> QueueRule | None:
        for rule in self.queues:
            if rule.name == name:
                return rule
        return None

    def queue_for(self, language: str, skill: str = "general") -> QueueRule | None:
        """The queue serving ``language`` and ``skill``; falls back to any skill."""
        candidates = [q for q in self.queues if q.language == language]
        for rule in candidates:
            if rule.skill == skill:
                return rule
        return candidates[0] if candidates else None


def _retry_after() -> dict[str, float]:
    return {"busy": 300.0, "no_answer": 900.0, "failed": 600.0, "machine": 1800.0}


@dataclass(frozen=True, slots=True)
class CallbackSettings:
    """``[callbacks]`` of a tenant file: whether and how callers are called back."""

    enabled: bool = True  # False: no callback key, offer, IVR callback or API request
    # Offer a callback (whispered into the queue) once the caller's estimated wait passes
    # this many seconds; 0: only the key (and the IVR menu) offer it.
    offer_after: float = 0.0
    mode: CallbackMode = "agent_first"
    max_attempts: int = 6  # dials of the customer in all, whatever their outcomes
    retry_after: dict[str, float] = field(default_factory=_retry_after)  # outcome → seconds
    closing_margin: float = 900.0  # no callback dialled this many seconds before closing
    # Dialling hours (index 0 = Monday) inside the opening hours; None: the opening hours.
    hours: tuple[tuple[Interval, ...], ...] | None = None
    # A callback not reached this many seconds after it was requested ends as "expired"
    # and is never dialled after that (a caller from three days ago expects no call).
    max_age: float = 3 * 86400.0
    # An assigned callback waits this many seconds for its receptionist, then any may take it.
    assign_fallback: float = 600.0


@dataclass(frozen=True, slots=True)
class Tenant:
    slug: str
    name: str
    greeting: str  # receptionist script; {agent} is replaced by the receptionist's name
    languages: tuple[str, ...]  # offered, in menu order
    default_language: str
    timezone: str
    hours: tuple[tuple[Interval, ...], ...]  # index 0 = Monday
    holidays: HolidayRule | None
    closures: tuple[Closure, ...]
    emergency_closed: bool
    dids: tuple[Did, ...]
    staff: tuple[StaffMember, ...]
    routing: RoutingRules
    flow: Flow
    source: str = "<memory>"
    # Text of each tenant recording per language (what a placeholder says until recorded).
    recording_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    # Where outgoing legs may go ([dialling] in the tenant file); None: the app's default
    # policy for the tenant's home country (callcenter.phone.policy).
    dialling: DestinationPolicy | None = None
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def did(self, number: str) -> Did | None:
        for did in self.dids:
            if did.number == number:
                return did
        return None

    def staff_member(self, staff_id: str) -> StaffMember | None:
        for member in self.staff:
            if member.id == staff_id:
                return member
        return None

    @property
    def home_region(self) -> str | None:
        """The tenant's own country (see :func:`home_region`)."""
        return home_region(self.dids, self.holidays)

    def is_vip(self, caller_e164: str | None) -> bool:
        return caller_e164 is not None and caller_e164 in self.routing.vip_numbers


def home_region(dids: tuple[Did, ...], holidays: HolidayRule | None) -> str | None:
    """A tenant's own country: that of its first number, else of its holidays, else None."""
    for did in dids:
        region = region_of(did.number)
        if region and region.isalpha():  # not "001" (non-geographic)
            return region
    return holidays.country if holidays is not None else None
