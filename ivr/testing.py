"""Builders for tests and benchmarks: small tenants and prompt trees without files in repo.

Kept in the package (not under tests/) so that the benchmark and the ARI runner tests can
build the same tenants.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from callcenter.pbx.ari.events import AriEvent, parse_event
from ivr.flow import Flow, Node
from ivr.tenancy import (
    WEEKDAYS,
    Closure,
    Did,
    HolidayRule,
    Interval,
    OverflowRule,
    QueueRule,
    RoutingRules,
    StaffMember,
    Tenant,
)


def hm(text: str) -> int:
    """ "08:30" → seconds after midnight (24:00 allowed)."""
    hour, minute = text.split(":")
    return int(hour) * 3600 + int(minute) * 60


def week(**days: Iterable[str]) -> tuple[tuple[Interval, ...], ...]:
    """Opening hours from ``mon=["08:00-12:00", ...]``; days not given are closed."""
    unknown = set(days) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"unknown weekdays {unknown}")
    out = []
    for day in WEEKDAYS:
        intervals = []
        for spec in days.get(day, ()):
            start, end = spec.split("-")
            intervals.append(Interval(hm(start), hm(end)))
        out.append(tuple(intervals))
    return tuple(out)


OFFICE_HOURS = week(**{d: ["08:00-12:00", "13:00-17:00"] for d in WEEKDAYS[:5]})


def simple_flow() -> Flow:
    """main menu (1 → reception queue, 2 → voicemail, 3 → staff, 9 → hours), reception
    queue, closed announcement with the next opening then voicemail."""
    nodes = {
        "main": Node(
            "main",
            "menu",
            prompts=("rec:main",),
            options={"1": "reception", "2": "vm", "3": "boss", "9": "hours"},
        ),
        "hours": Node("hours", "announcement", prompts=("rec:hours",), next="main"),
        "closed": Node(
            "closed", "announcement", prompts=("rec:closed",), say_next_opening=True, next="vm"
        ),
        "reception": Node("reception", "queue"),
        "vm": Node("vm", "voicemail", prompts=("vm-intro",)),
        "boss": Node("boss", "transfer", staff="boss"),
    }
    return Flow(nodes, "main", "reception", "closed")


def make_tenant(**changes: Any) -> Tenant:
    """A German-first tenant in Berlin (Bavarian holidays) with de/en queues; override any
    field with keyword arguments."""
    base = Tenant(
        slug="acme",
        name="ACME GmbH",
        greeting="ACME, guten Tag, Sie sprechen mit {agent}.",
        languages=("de", "en"),
        default_language="de",
        timezone="Europe/Berlin",
        hours=OFFICE_HOURS,
        holidays=HolidayRule("DE", "BY"),
        closures=(),
        emergency_closed=False,
        dids=(
            Did("+49891111110", entry="main"),
            Did("+49891111111", queue="q-acme-de"),
            Did("+49891111112", language="en"),
        ),
        staff=(StaffMember("boss", "Chef", "+4915112345678"),),
        routing=RoutingRules(
            queues=(
                QueueRule(
                    "q-acme-de",
                    "de",
                    overflow=(
                        OverflowRule("no_agents", "voicemail"),
                        OverflowRule("callers_over", "queue", 8, "q-pool-de"),
                        OverflowRule("wait_over", "callback", 180),
                    ),
                ),
                QueueRule("q-acme-en", "en", overflow=(OverflowRule("no_agents", "callback"),)),
                QueueRule("q-pool-de", "de", skill="overflow"),
            ),
            language_from_number=True,
            language_by_region={"DE": "de", "AT": "de", "GB": "en", "US": "en"},
            vip_numbers=frozenset({"+491701234567"}),
            vip_priority=10,
            voicemail_box="acme",
        ),
        flow=simple_flow(),
    )
    return dataclasses.replace(base, **changes)


def closure(start: str, end: str, reason: str = "closed") -> Closure:
    return Closure(datetime.fromisoformat(start), datetime.fromisoformat(end), reason)


def write_sounds(root: Path, names: Mapping[str, Iterable[str]], ext: str = "gsm") -> Path:
    """Create empty sound files ``root/<lang>/<name>.<ext>``; returns ``root``."""
    for lang, items in names.items():
        for name in items:
            path = root / lang / f"{name}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return root


def ari_event(kind: str, **fields: Any) -> AriEvent:
    """An ARI event of type ``kind`` (application ``cc``) parsed like a websocket frame."""
    return parse_event(
        json.dumps(
            {
                "type": kind,
                "application": "cc",
                "timestamp": "2026-11-30T09:00:00.000+0000",
                **fields,
            }
        )
    )
