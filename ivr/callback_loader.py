"""``[callbacks]`` of a tenant file (part of :mod:`ivr.loader`): whether and how the
tenant's callers are called back (:class:`~ivr.tenancy.CallbackSettings`).

```toml
[callbacks]
enabled = true            # false: no key, no offer, no IVR or API callback
offer_after = 120         # offer a callback once the estimated wait passes 120 s (0: off)
mode = "agent_first"      # or "customer_first" (the customer presses 1 to be connected)
max_attempts = 4          # dials of the customer in all
retry_after = { busy = 300, no_answer = 900, failed = 600, machine = 1800 }  # seconds
closing_margin = 15       # minutes before closing in which no callback is dialled
hours = { mon = ["09:00-12:00"] }  # dialling hours inside the opening hours (optional)
max_age = 72              # hours after the request: not reached by then, it expires
assign_fallback = 10      # minutes an assigned callback waits for its receptionist
```

Faults name the field (``callbacks.retry_after.busy``); the loader adds file and line.
"""

from __future__ import annotations

from typing import Any

from ivr.document import Doc
from ivr.schedule_loader import parse_hours
from ivr.tenancy import CALLBACK_MODES, RETRY_OUTCOMES, CallbackMode, CallbackSettings

KEYS = (
    "enabled",
    "offer_after",
    "mode",
    "max_attempts",
    "retry_after",
    "closing_margin",
    "hours",
    "max_age",
    "assign_fallback",
)
MAX_OFFER_AFTER_S = 3600
MAX_ATTEMPTS = 20
MAX_RETRY_AFTER_S = 7 * 86400
MAX_CLOSING_MARGIN_MIN = 240
MAX_AGE_H = 30 * 24  # Genesys schedules up to 30 days ahead; nothing older makes sense
MAX_ASSIGN_FALLBACK_MIN = 24 * 60


def parse_callbacks(doc: Doc, raw: dict[str, Any]) -> CallbackSettings:
    default = CallbackSettings()
    if "callbacks" not in raw:
        return default
    table = doc.table(raw, "callbacks", "")
    where = "callbacks"
    doc.unknown_keys(table, KEYS, where)
    enabled = doc.get(table, "enabled", where, bool, True)
    offer_after = _number(doc, table, "offer_after", (0, MAX_OFFER_AFTER_S), 0.0, unit="seconds")
    raw_mode = doc.get(table, "mode", where, str, default.mode) or default.mode
    mode: CallbackMode = default.mode
    if raw_mode in CALLBACK_MODES:
        mode = raw_mode
    else:
        doc.fault(f"{where}.mode", f"{raw_mode!r}: use one of {', '.join(CALLBACK_MODES)}")
    attempts = doc.get(table, "max_attempts", where, int, default.max_attempts)
    if attempts is None or not 1 <= attempts <= MAX_ATTEMPTS:
        doc.fault(f"{where}.max_attempts", f"{attempts}: dials in all must be 1..{MAX_ATTEMPTS}")
        attempts = default.max_attempts
    retry_after = dict(default.retry_after)
    spacing = doc.table(table, "retry_after", where)
    doc.unknown_keys(spacing, RETRY_OUTCOMES, f"{where}.retry_after")
    for outcome in RETRY_OUTCOMES:
        if outcome in spacing:
            retry_after[outcome] = _number(
                doc,
                spacing,
                outcome,
                (0, MAX_RETRY_AFTER_S),
                retry_after[outcome],
                unit="seconds",
                where=f"{where}.retry_after",
            )
    margin_min = _number(
        doc,
        table,
        "closing_margin",
        (0, MAX_CLOSING_MARGIN_MIN),
        default.closing_margin / 60,
        unit="minutes",
    )
    hours = None
    if "hours" in table:
        hours = parse_hours(doc, doc.table(table, "hours", where), f"{where}.hours")
    max_age_h = _number(doc, table, "max_age", (1, MAX_AGE_H), default.max_age / 3600, unit="hours")
    fallback_min = _number(
        doc,
        table,
        "assign_fallback",
        (1, MAX_ASSIGN_FALLBACK_MIN),
        default.assign_fallback / 60,
        unit="minutes",
    )
    return CallbackSettings(
        enabled=bool(enabled),
        offer_after=offer_after,
        mode=mode,
        max_attempts=attempts,
        retry_after=retry_after,
        closing_margin=margin_min * 60,
        hours=hours,
        max_age=max_age_h * 3600,
        assign_fallback=fallback_min * 60,
    )


def _number(
    doc: Doc,
    table: dict[str, Any],
    key: str,
    bounds: tuple[float, float],
    default: float,
    *,
    unit: str,
    where: str = "callbacks",
) -> float:
    low, high = bounds
    value = doc.get(table, key, where, (int, float), default)
    number = float(value if value is not None else default)
    if not low <= number <= high:
        doc.fault(f"{where}.{key}", f"{number:g}: {unit} must be {low:g}..{high:g}")
        return default
    return number
