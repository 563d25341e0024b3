"""Routing decisions for one call: pure functions of tenant, call, time and queue load.

``route`` answers "what happens to this call now": the IVR, a closed announcement then
voicemail, a queue (with VIP priority) or an overflow (callback offer, voicemail, overflow
queue). ``decide_queue`` is the part applied whenever a call is about to enter a queue,
from the DID directly or from an IVR queue node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from ivr.hours import OpenStatus, next_opening, status_at
from ivr.tenancy import OverflowAction, OverflowRule, Tenant

LanguageSource = str  # "hint" | "did" | "number" | "default" | "choice"


@dataclass(frozen=True, slots=True)
class CallContext:
    """What is known about a call when it arrives."""

    did: str  # dialled number, E.164
    caller_e164: str | None  # None: anonymous or unparseable
    now_utc: datetime
    language_hint: str | None = None  # e.g. from the trunk or a previous call
    crm_contact_id: str | None = None  # the caller's CRM record, if the lookup found one
    crm_vip: bool = False  # the CRM's VIP flag (the tenant's static list counts too)


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """Live snapshot of one queue (from the live state)."""

    agents_logged_in: int
    agents_available: int
    callers_waiting: int
    longest_wait_s: float

    @classmethod
    def unknown(cls) -> QueueLoad:
        # A queue the live state does not know has, as far as routing can tell, nobody.
        return cls(0, 0, 0, 0.0)


@dataclass(frozen=True, slots=True)
class Language:
    """The call's language and where it came from (``number``/``did``/``hint`` count as
    pre-selected, so a language menu may be skipped)."""

    code: str
    source: LanguageSource

    @property
    def preselected(self) -> bool:
        return self.source in ("hint", "did", "number")


@dataclass(frozen=True, slots=True)
class EnterIvr:
    node: str
    language: Language
    priority: int


@dataclass(frozen=True, slots=True)
class ClosedAnnouncement:
    """Say that the tenant is closed (and when it opens again), then take a voicemail."""

    status: OpenStatus
    next_opening_utc: datetime | None
    language: Language
    mailbox: str
    node: str  # the flow's closed node (run it with IvrSession, entry=node)
    priority: int = 0


@dataclass(frozen=True, slots=True)
class EnterQueue:
    queue: str
    priority: int
    language: Language
    vip: bool


@dataclass(frozen=True, slots=True)
class Overflow:
    """A queue rule fired: do ``action`` instead of (or besides) the original queue."""

    action: OverflowAction
    from_queue: str
    reason: str  # which rule fired, for logs and statistics ("diverted")
    language: Language
    priority: int
    target_queue: str | None = None  # for action "queue"
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Unroutable:
    """No queue fits (e.g. a language without a queue); never silently changes language."""

    reason: str
    language: Language


RoutingDecision = EnterIvr | ClosedAnnouncement | EnterQueue | Overflow | Unroutable
QueueDecision = EnterQueue | Overflow | Unroutable


def language_from_number(tenant: Tenant, caller_e164: str | None) -> str | None:
    """The language the caller's country suggests, if the tenant allows and offers it."""
    rules = tenant.routing
    if not rules.language_from_number or not caller_e164:
        return None
    try:
        number = phonenumbers.parse(caller_e164, None)
    except phonenumbers.NumberParseException:
        return None
    # The country calling code decides, whether or not the library deems the number valid
    # (new or fictional ranges have no region): the number's own region if it has one
    # (+43 → AT), then the code's main region (+44 → GB, not GG/JE/IM), then the others.
    code = number.country_code or 0
    candidates = [
        phonenumbers.region_code_for_number(number),
        phonenumbers.region_code_for_country_code(code),
        *phonenumbers.region_codes_for_country_code(code),
    ]
    for region in candidates:
        language = rules.language_by_region.get(region or "")
        if language in tenant.languages:
            return language
    return None


def pick_language(tenant: Tenant, call: CallContext) -> Language:
    """Hint, then the DID's language, then the caller's country, then the default."""
    if call.language_hint in tenant.languages:
        return Language(call.language_hint, "hint")
    did = tenant.did(call.did)
    if did is not None and did.language:
        return Language(did.language, "did")
    by_number = language_from_number(tenant, call.caller_e164)
    if by_number is not None:
        return Language(by_number, "number")
    return Language(tenant.default_language, "default")


def is_vip(tenant: Tenant, call: CallContext) -> bool:
    """VIP by the CRM flag or by the tenant's static list of numbers."""
    return call.crm_vip or tenant.is_vip(call.caller_e164)


def priority_for(tenant: Tenant, call: CallContext) -> int:
    rules = tenant.routing
    return rules.vip_priority if is_vip(tenant, call) else rules.default_priority


def route(tenant: Tenant, call: CallContext, load: Mapping[str, QueueLoad]) -> RoutingDecision:
    """Decide what happens to a call arriving now (see module docstring)."""
    language = pick_language(tenant, call)
    priority = priority_for(tenant, call)
    did = tenant.did(call.did)
    status = status_at(tenant, call.now_utc)
    if not status.is_open:
        return ClosedAnnouncement(
            status,
            next_opening(tenant, call.now_utc),
            language,
            tenant.routing.voicemail_box,
            tenant.flow.closed,
            priority,
        )
    if did is not None and did.queue:
        return decide_queue(tenant, did.queue, call, language, load)
    entry = did.entry if did is not None and did.entry else tenant.flow.entry
    return EnterIvr(entry, language, priority)


def decide_queue(
    tenant: Tenant,
    queue: str | None,
    call: CallContext,
    language: Language,
    load: Mapping[str, QueueLoad],
) -> QueueDecision:
    """Queue the caller (VIPs with priority) unless an overflow rule of the queue fires.

    ``queue`` None means the tenant's queue for the caller's language. Rules are tried in
    file order; the first that holds wins. An overflow queue's own rules are not chained,
    so a full overflow queue still takes the caller (no ping-pong between queues).
    """
    rule = tenant.routing.queue(queue) if queue else tenant.routing.queue_for(language.code)
    if rule is None:
        wanted = queue or f"language {language.code!r}"
        return Unroutable(f"no queue for {wanted}", language)
    vip = is_vip(tenant, call)
    priority = priority_for(tenant, call)
    snapshot = load.get(rule.name, QueueLoad.unknown())
    for over in rule.overflow:
        reason = _fires(over, snapshot)
        if reason is not None:
            return Overflow(
                over.action,
                rule.name,
                reason,
                language,
                priority,
                over.queue if over.action == "queue" else None,
                tenant.routing.voicemail_box,
            )
    return EnterQueue(rule.name, priority, language, vip)


def _fires(rule: OverflowRule, load: QueueLoad) -> str | None:
    if rule.when == "no_agents" and load.agents_logged_in == 0:
        return "no_agents"
    if rule.when == "wait_over" and load.longest_wait_s > rule.threshold:
        return f"wait_over:{rule.threshold}"
    if rule.when == "callers_over" and load.callers_waiting > rule.threshold:
        return f"callers_over:{rule.threshold}"
    return None
