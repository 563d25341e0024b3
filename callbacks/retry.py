"""Retries: how often and how soon a callback is dialled again after each attempt outcome.

Pure. A receptionist declining or a placeholder lost with the PBX is not an attempt (the
dialler re-queues without counting); every dial of the customer is, and its outcome picks
the rule: busy, no answer, failed (network, number) and machine (answered but the "press 1"
guard was not confirmed) each have a count and a delay. ``interrupted`` (the PBX went away
mid-dial) is retried at once. A callback also ends when it would be due after
``expires_at``: final outcome ``expired``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

AttemptOutcome = Literal["answered", "no_answer", "busy", "failed", "machine", "interrupted"]
FinalOutcome = Literal["completed", "no_answer", "busy", "failed", "cancelled", "expired"]

_FINAL: dict[AttemptOutcome, FinalOutcome] = {
    "answered": "completed",
    "no_answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
    "machine": "no_answer",
    "interrupted": "failed",
}


@dataclass(frozen=True, slots=True)
class RetryRule:
    attempts: int  # dials with this outcome before giving up (1 = no retry)
    delay_s: float


def default_rules() -> dict[AttemptOutcome, RetryRule]:
    return {
        "busy": RetryRule(3, 300.0),
        "no_answer": RetryRule(3, 900.0),
        "failed": RetryRule(2, 600.0),
        "machine": RetryRule(2, 1800.0),
        "interrupted": RetryRule(3, 0.0),
    }


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    rules: Mapping[AttemptOutcome, RetryRule] = field(default_factory=default_rules)
    max_attempts: int = 6  # all outcomes together


@dataclass(frozen=True, slots=True)
class Retry:
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Final:
    outcome: FinalOutcome


def after_attempt(
    policy: RetryPolicy,
    outcome: AttemptOutcome,
    outcomes_so_far: Mapping[AttemptOutcome, int],
    now: datetime,
    expires_at: datetime | None,
) -> Retry | Final:
    """What follows an attempt; ``outcomes_so_far`` counts earlier *and* this attempt."""
    if outcome == "answered":
        return Final("completed")
    rule = policy.rules.get(outcome)
    total = sum(outcomes_so_far.values())
    if rule is None or outcomes_so_far.get(outcome, 0) >= rule.attempts:
        return Final(_FINAL[outcome])
    if total >= policy.max_attempts:
        return Final(_FINAL[outcome])
    due = now + timedelta(seconds=rule.delay_s)
    if expires_at is not None and due > expires_at:
        return Final("expired")
    return Retry(due)


def classify_hangup(cause: int, answered: bool) -> AttemptOutcome:
    """An attempt's outcome from the customer leg's Q.850 hangup cause."""
    if answered:
        return "answered"
    if cause in (17, 21):  # user busy, call rejected
        return "busy"
    if cause in (16, 18, 19, 31):  # no answer (16/31: ended before an answer)
        return "no_answer"
    return "failed"
