"""The ``[routing]`` table of a tenant file: queues, their alerts and overflow, VIPs."""

from __future__ import annotations

import re
from typing import Any, cast, get_args

import phonenumbers

from ivr.document import Doc
from ivr.tenancy import (
    OverflowAction,
    OverflowRule,
    OverflowWhen,
    QueueAlerts,
    QueueRule,
    RoutingRules,
)

QUEUE_RE = re.compile(r"^q-[A-Za-z0-9][A-Za-z0-9_-]{0,60}$")
"""A queue name as Asterisk and the dialplan's ``cc-queue`` context take it."""


def parse_routing(doc: Doc, table: dict[str, Any], languages: tuple[str, ...]) -> RoutingRules:
    doc.unknown_keys(
        table,
        (
            "queues",
            "language_from_number",
            "language_by_region",
            "vip_numbers",
            "vip_priority",
            "default_priority",
            "voicemail_box",
            "announce_after",
            "announce_every",
            "alerts",
        ),
        "routing",
    )
    default_alerts = _alerts(doc, table, "routing", QueueAlerts()) or QueueAlerts()
    by_region: dict[str, str] = {}
    for region, lang in doc.table(table, "language_by_region", "routing").items():
        path = f"routing.language_by_region.{region}"
        if region not in phonenumbers.SUPPORTED_REGIONS:
            doc.fault(path, f"unknown region code {region!r}")
        elif not isinstance(lang, str) or lang not in languages:
            doc.fault(path, f"{lang!r} is not an offered language {languages}")
        else:
            by_region[region] = lang
    vips = frozenset(
        n
        for i, v in enumerate(doc.get(table, "vip_numbers", "routing", list, []) or [])
        if (n := doc.e164(v, f"routing.vip_numbers.{i}"))
    )
    queues: list[QueueRule] = []
    for i, item in enumerate(doc.get(table, "queues", "routing", list, []) or []):
        rule = _queue(doc, item, f"routing.queues.{i}", languages, default_alerts)
        if rule is not None:
            if any(q.name == rule.name for q in queues):
                doc.fault(f"routing.queues.{i}.name", f"duplicate queue {rule.name!r}")
            queues.append(rule)
    names = {q.name for q in queues}
    for i, rule in enumerate(queues):
        for j, over in enumerate(rule.overflow):
            if over.action == "queue" and over.queue not in names:
                doc.fault(
                    f"routing.queues.{i}.overflow.{j}.queue",
                    f"unknown queue {over.queue!r} (define it in routing.queues)",
                )
    for lang in languages:
        if not any(q.language == lang for q in queues):
            doc.fault("routing.queues", f"no queue serves offered language {lang!r}")
    return RoutingRules(
        queues=tuple(queues),
        language_from_number=doc.get(table, "language_from_number", "routing", bool, False)
        or False,
        language_by_region=by_region,
        vip_numbers=vips,
        vip_priority=doc.get(table, "vip_priority", "routing", int, 10) or 0,
        default_priority=doc.get(table, "default_priority", "routing", int, 0) or 0,
        voicemail_box=doc.get(table, "voicemail_box", "routing", str, "") or "",
        announce_after=_seconds(doc, table, "announce_after", 30.0),
        announce_every=_seconds(doc, table, "announce_every", 60.0),
        alerts=default_alerts,
    )


_ALERT_KEYS = ("wait", "waiting", "service_level")


def _alerts(doc: Doc, table: dict[str, Any], path: str, base: QueueAlerts) -> QueueAlerts | None:
    """``alerts = { wait = [amber, red], waiting = [..], service_level = [..] }``; keys left
    out come from ``base`` (the tenant's ``routing.alerts``, else the defaults)."""
    raw = doc.get(table, "alerts", path, dict, None)
    if raw is None:
        return None
    where = f"{path}.alerts"
    doc.unknown_keys(raw, _ALERT_KEYS, where)
    values: dict[str, tuple[float, float]] = {}
    for key in _ALERT_KEYS:
        pair = raw.get(key)
        if pair is None:
            continue
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        ):
            doc.fault(f"{where}.{key}", f"expected [amber, red] (two numbers), got {pair!r}")
            continue
        amber, red = float(pair[0]), float(pair[1])
        if key == "service_level":
            if not (0 <= red < amber <= 100):
                doc.fault(
                    f"{where}.{key}",
                    f"{pair!r}: percent, amber above red (tiles turn amber below the first)",
                )
                continue
        elif not (0 < amber < red):
            doc.fault(f"{where}.{key}", f"{pair!r}: amber must be positive and below red")
            continue
        values[key] = (amber, red)
    wait = values.get("wait", base.wait)
    waiting = values.get("waiting", (float(base.waiting[0]), float(base.waiting[1])))
    return QueueAlerts(
        wait=wait,
        waiting=(int(waiting[0]), int(waiting[1])),
        service_level=values.get("service_level", base.service_level),
    )


def _seconds(doc: Doc, table: dict[str, Any], key: str, default: float) -> float:
    value = doc.get(table, key, "routing", (int, float), default)
    seconds = float(value if value is not None else default)
    if not 0 <= seconds <= 3600:
        doc.fault(f"routing.{key}", f"{seconds:g}: seconds must be 0..3600 (0 turns it off)")
        return default
    return seconds


def _queue(
    doc: Doc, item: Any, path: str, languages: tuple[str, ...], alerts: QueueAlerts
) -> QueueRule | None:
    if not isinstance(item, dict):
        doc.fault(path, "expected a table with name, language")
        return None
    doc.unknown_keys(item, ("name", "language", "skill", "overflow", "alerts"), path)
    name = doc.get(item, "name", path, str, "", required=True) or ""
    if name and not QUEUE_RE.match(name):
        doc.fault(
            f"{path}.name",
            f"{name!r}: the app_queue name, 'q-' then letters, digits, "
            "'-' and '_' (the cc-queue dialplan only queues q-… names)",
        )
    lang = doc.get(item, "language", path, str, "", required=True) or ""
    if lang and lang not in languages:
        doc.fault(f"{path}.language", f"{lang!r} is not an offered language {languages}")
    skill = doc.get(item, "skill", path, str, "general") or "general"
    rules: list[OverflowRule] = []
    for j, over in enumerate(doc.get(item, "overflow", path, list, []) or []):
        rule = _overflow(doc, over, f"{path}.overflow.{j}")
        if rule is not None:
            rules.append(rule)
    own = _alerts(doc, item, path, alerts)
    return QueueRule(name, lang, skill, tuple(rules), own) if name else None


def _overflow(doc: Doc, item: Any, path: str) -> OverflowRule | None:
    if not isinstance(item, dict):
        doc.fault(path, "expected a table with when, action")
        return None
    doc.unknown_keys(item, ("when", "action", "threshold", "queue"), path)
    when = doc.get(item, "when", path, str, "", required=True) or ""
    action = doc.get(item, "action", path, str, "", required=True) or ""
    threshold = doc.get(item, "threshold", path, int, 0) or 0
    queue = doc.get(item, "queue", path, str, None)
    ok = True
    if when and when not in get_args(OverflowWhen):
        doc.fault(f"{path}.when", f"{when!r}: use one of {', '.join(get_args(OverflowWhen))}")
        ok = False
    if action and action not in get_args(OverflowAction):
        doc.fault(f"{path}.action", f"{action!r}: use one of {', '.join(get_args(OverflowAction))}")
        ok = False
    if when in ("wait_over", "callers_over") and threshold <= 0:
        doc.fault(f"{path}.threshold", f"a positive threshold is needed for {when}")
        ok = False
    if action == "queue" and not queue:
        doc.fault(f"{path}.queue", "action 'queue' needs the overflow queue")
        ok = False
    if not (ok and when and action):
        return None
    return OverflowRule(cast(OverflowWhen, when), cast(OverflowAction, action), threshold, queue)
