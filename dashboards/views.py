"""Pure view models: the live snapshot turned into what the console and wallboard show.

No I/O and no clock: everything takes the snapshot (``LiveState.snapshot``) and plain
lookups, so the rules (which calls a receptionist sees, when a tile turns amber or red, an
agent's state) are tested with tables. Metric names follow the guide (§5): *offered* =
calls that entered a queue, *service level* = answered within the queue's threshold ÷
offered (abandons within the grace time left out), *abandon rate* = abandoned ÷ offered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Level = Literal["ok", "amber", "red"]
AgentState = Literal["ready", "ringing", "on_call", "paused", "wrapup", "logged_out"]
WRAPUP_REASON = "wrapup"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a queue tile turns amber or red (per queue, defaults for all)."""

    wait_amber: float = 30.0  # longest wait, seconds
    wait_red: float = 60.0
    waiting_amber: int = 3  # callers waiting
    waiting_red: int = 6
    sl_amber: float = 0.8  # service level today, fraction
    sl_red: float = 0.6


class AlertValues(Protocol):
    """What a tenant file says (``ivr.tenancy.QueueAlerts``): pairs (amber, red), service
    level in percent."""

    @property
    def wait(self) -> tuple[float, float]: ...

    @property
    def waiting(self) -> tuple[int, int]: ...

    @property
    def service_level(self) -> tuple[float, float]: ...


def thresholds_of(alerts: AlertValues) -> Thresholds:
    return Thresholds(
        wait_amber=alerts.wait[0],
        wait_red=alerts.wait[1],
        waiting_amber=alerts.waiting[0],
        waiting_red=alerts.waiting[1],
        sl_amber=alerts.service_level[0] / 100,
        sl_red=alerts.service_level[1] / 100,
    )


@dataclass(frozen=True, slots=True)
class TodayStats:
    """One queue's numbers for today (from the call rows; see :mod:`dashboards.today`)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_in_time: int = 0
    short_abandons: int = 0  # abandoned within the grace time: not counted for service level

    @property
    def service_level(self) -> float | None:
        base = self.offered - self.short_abandons
        return None if base <= 0 else self.answered_in_time / base

    @property
    def abandon_rate(self) -> float | None:
        return None if self.offered <= 0 else self.abandoned / self.offered

    def plus(self, other: TodayStats) -> TodayStats:
        return TodayStats(
            self.offered + other.offered,
            self.answered + other.answered,
            self.abandoned + other.abandoned,
            self.answered_in_time + other.answered_in_time,
            self.short_abandons + other.short_abandons,
        )


def worst(*levels: Level) -> Level:
    if "red" in levels:
        return "red"
    return "amber" if "amber" in levels else "ok"


def above(value: float, amber: float, red: float) -> Level:
    if value >= red:
        return "red"
    return "amber" if value >= amber else "ok"


def below(value: float | None, amber: float, red: float) -> Level:
    if value is None:
        return "ok"
    if value < red:
        return "red"
    return "amber" if value < amber else "ok"


def agent_state(view: Mapping[str, Any]) -> AgentState:
    """One word for a receptionist (wrap-up is a pause with the ``wrapup`` reason)."""
    if view.get("status") in (None, "logged_out"):
        return "logged_out"
    if view.get("status") in ("ringing", "ringinuse"):
        return "ringing"
    if view.get("in_call"):
        return "on_call"
    if view.get("paused"):
        reasons = str(view.get("paused_reason") or "").split(", ")
        return "wrapup" if WRAPUP_REASON in reasons else "paused"
    return "ready"


@dataclass(frozen=True, slots=True)
class Tile:
    """A queue tile of the wallboard."""

    queue: str
    tenant: str | None
    tenant_name: str
    waiting: int
    longest_wait: float
    oldest_joined_at: float | None
    agents: dict[str, int]  # state -> count
    today: TodayStats
    level_wait: Level
    level_waiting: Level
    level_sl: Level
    callbacks_pending: int = 0
    callbacks_overdue: int = 0
    thresholds: Thresholds = Thresholds()

    @property
    def level(self) -> Level:
        return worst(self.level_wait, self.level_waiting, self.level_sl)


def agents_by_queue(agents: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per queue: how many of its members are ready / on call / paused / wrap-up …"""
    out: dict[str, dict[str, int]] = {}
    for view in agents.values():
        state = agent_state(view)
        for membership in view.get("queues") or ():
            counts = out.setdefault(str(membership["queue"]), {})
            counts[state] = counts.get(state, 0) + 1
    return out


def tile(
    queue: Mapping[str, Any],
    agents: Mapping[str, int],
    *,
    today: TodayStats,
    thresholds: Thresholds,
    tenant_name: str = "",
    callbacks: tuple[int, int] = (0, 0),
) -> Tile:
    """The tile of one queue view (``snapshot["queues"][name]``)."""
    callers = queue.get("callers") or []
    longest = float(queue.get("longest_wait") or 0.0)
    waiting = int(queue.get("calls") or len(callers))
    oldest = min((float(c["joined_at"]) for c in callers), default=None)
    return Tile(
        queue=str(queue["name"]),
        tenant=queue.get("tenant"),
        tenant_name=tenant_name or str(queue.get("tenant") or ""),
        waiting=waiting,
        longest_wait=longest,
        oldest_joined_at=oldest,
        agents=dict(agents),
        today=today,
        level_wait=above(longest, thresholds.wait_amber, thresholds.wait_red),
        level_waiting=above(waiting, thresholds.waiting_amber, thresholds.waiting_red),
        level_sl=below(today.service_level, thresholds.sl_amber, thresholds.sl_red),
        callbacks_pending=callbacks[0],
        callbacks_overdue=callbacks[1],
        thresholds=thresholds,
    )


@dataclass(frozen=True, slots=True)
class CallCard:
    """A live call as the console shows it."""

    linkedid: str
    phase: str  # ivr, queued, ringing, answered, left
    tenant: str | None
    tenant_id: int | None
    tenant_name: str
    greeting: str
    caller: str | None
    caller_name: str | None
    contact_id: str | None
    contact_name: str | None
    vip: bool
    language: str | None
    queue: str | None
    did: str | None
    ivr_path: str | None
    position: int | None
    since: float  # waiting since (queued) or talking since (answered), epoch seconds
    agent: str | None
    held: bool = False
    consult: bool = False
    parked_slot: str | None = None
    sort: int = 0
    # The last transfer that could not be placed (target, DIALSTATUS); the caller is back.
    transfer_failed: tuple[str, str] | None = None

    @property
    def waiting(self) -> bool:
        return self.phase in ("queued", "ringing")


@dataclass(frozen=True, slots=True)
class TenantInfo:
    name: str
    greeting: str
    vip_numbers: frozenset[str] = frozenset()


CONSOLE_PHASES = frozenset({"queued", "ringing", "answered"})


@dataclass(frozen=True, slots=True)
class CallFlags:
    """What the call-control facts add to a call view (see ``callcontrol.rules.facts_of``)."""

    held: bool = False
    consult: bool = False


NO_FLAGS = CallFlags()


def call_card(
    view: Mapping[str, Any], tenant: TenantInfo | None, flags: CallFlags = NO_FLAGS
) -> CallCard | None:
    """The card of one call view, or ``None`` for calls the console does not show (still in
    the IVR, or finished)."""
    phase = str(view.get("phase") or "")
    if phase not in CONSOLE_PHASES:
        return None
    waiting = phase in ("queued", "ringing")
    since = view.get("queued_at") if waiting else view.get("answered_at")
    since = float(since or view.get("entered_at") or 0.0)
    caller = view.get("caller")
    # The screen pop's label is a contact's or organisation's name only for a match; for
    # unknown or withheld callers it is a description, which the card words itself.
    matched = view.get("crm_status") in ("contact", "organisation")
    vip = bool(view.get("contact_vip")) or (
        tenant is not None and caller is not None and caller in tenant.vip_numbers
    )
    # Waiting calls first, oldest first; then calls in progress, oldest first. CSS ``order``
    # keeps the list sorted without re-rendering the other cards.
    sort = int(since) % 10_000_000 + (0 if waiting else 10_000_000)
    return CallCard(
        linkedid=str(view["linkedid"]),
        phase=phase,
        tenant=view.get("tenant"),
        tenant_id=view.get("tenant_id"),
        tenant_name=tenant.name if tenant else str(view.get("tenant") or ""),
        greeting=tenant.greeting if tenant else "",
        caller=caller,
        caller_name=view.get("caller_name"),
        contact_id=view.get("contact"),
        contact_name=view.get("contact_name") if matched else None,
        vip=vip,
        language=view.get("language"),
        queue=view.get("queue"),
        did=view.get("did"),
        ivr_path=view.get("ivr_path"),
        position=view.get("position"),
        since=since,
        agent=view.get("agent"),
        held=flags.held,
        consult=flags.consult,
        parked_slot=view.get("parked_slot"),
        sort=sort,
        transfer_failed=_transfer_failed(view.get("transfer_failed")),
    )


def _transfer_failed(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return str(value.get("target") or ""), str(value.get("status") or "")


@dataclass(frozen=True, slots=True)
class AgentRow:
    interface: str
    name: str
    state: AgentState
    reason: str
    since: float
    calls_taken: int
    queues: tuple[str, ...]


def agent_row(view: Mapping[str, Any]) -> AgentRow:
    return AgentRow(
        interface=str(view["interface"]),
        name=str(view.get("name") or view["interface"]),
        state=agent_state(view),
        reason=str(view.get("paused_reason") or ""),
        since=float(view.get("since") or 0.0),
        calls_taken=int(view.get("calls_taken") or 0),
        queues=tuple(str(q["queue"]) for q in view.get("queues") or ()),
    )


def element_id(collection: str, key: str) -> str:
    """The DOM id of a pushed item: ``call-<linkedid>`` etc., reduced to safe characters."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in key)
    return f"{collection}-{safe}"


def visible_tenants(items: Iterable[str | None], allowed: set[str] | None) -> set[str | None]:
    """Which tenant slugs of ``items`` a user may see (``allowed`` ``None``: staff, all)."""
    return {t for t in items if allowed is None or t in allowed}


ThresholdLookup = Callable[[str], Thresholds]
