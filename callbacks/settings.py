"""A tenant's callback settings (``[callbacks]`` of its file, :class:`CallbackSettings`)
turned into what the dialler and the desks use: the retry policy and the dialling hours.

Pure. Dialling hours are the opening hours (holidays and closures included) cut down to
``[callbacks] hours`` where given, minus the closing margin (:func:`~.window.dial_window`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from callbacks.retry import AttemptOutcome, RetryPolicy, RetryRule, default_rules
from callbacks.window import Window, dial_window
from ivr import hours
from ivr.tenancy import CallbackSettings, Interval, Tenant


def retry_policy(settings: CallbackSettings) -> RetryPolicy:
    """The default counts per outcome, spaced as the tenant says, capped by max_attempts."""
    rules: dict[AttemptOutcome, RetryRule] = {}
    for outcome, rule in default_rules().items():
        delay = settings.retry_after.get(outcome, rule.delay_s)
        rules[outcome] = RetryRule(min(rule.attempts, settings.max_attempts), delay)
    return RetryPolicy(rules, max_attempts=settings.max_attempts)


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    for x in a:
        for y in b:
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start < end:
                out.append(Interval(start, end))
    return tuple(sorted(out, key=lambda iv: iv.start))


def dialling_tenant(tenant: Tenant) -> Tenant:
    """The tenant as the dialler sees it: open only within its callback hours."""
    own = tenant.callbacks.hours
    if own is None:
        return tenant
    week = tuple(_intersect(day, own[i]) for i, day in enumerate(tenant.hours))
    return replace(tenant, hours=week)


class TenantHours:
    """:class:`~.window.Hours` of a tenant's dialling hours."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = dialling_tenant(tenant)

    def is_open(self, at: datetime) -> bool:
        return hours.status_at(self._tenant, at).is_open

    def next_opening(self, at: datetime) -> datetime | None:
        return hours.next_opening(self._tenant, at)


def window_of(tenant: Tenant, now: datetime) -> Window:
    return dial_window(TenantHours(tenant), now, tenant.callbacks.closing_margin)
