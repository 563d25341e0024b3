"""Routing decisions as tables: open/closed/holiday/emergency, language pre-selection,
VIP priority and each overflow rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from ivr.hours import OpenStatus
from ivr.routing import (
    CallContext,
    ClosedAnnouncement,
    EnterIvr,
    EnterQueue,
    Language,
    Overflow,
    QueueLoad,
    Unroutable,
    decide_queue,
    pick_language,
    route,
)
from ivr.tenancy import HolidayRule
from ivr.testing import closure, make_tenant

MAIN, DIRECT, ENGLISH_LINE = "+49891111110", "+49891111111", "+49891111112"
OPEN_MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
STAFFED = QueueLoad(agents_logged_in=3, agents_available=1, callers_waiting=2, longest_wait_s=40.0)


def call(
    did: str = MAIN,
    caller: str | None = "+4930123456",
    when: datetime = OPEN_MONDAY,
    hint: str | None = None,
) -> CallContext:
    return CallContext(did=did, caller_e164=caller, now_utc=when, language_hint=hint)


@pytest.mark.parametrize(
    ("label", "tenant_changes", "ctx", "expected"),
    [
        ("open → IVR entry of the DID", {}, call(), EnterIvr("main", Language("de", "number"), 0)),
        (
            "DID without entry → tenant entry",
            {},
            call(ENGLISH_LINE),
            EnterIvr("main", Language("en", "did"), 0),
        ),
        (
            "DID straight to queue",
            {},
            call(DIRECT),
            EnterQueue("q-acme-de", 0, Language("de", "number"), vip=False),
        ),
        (
            "VIP straight to queue with priority",
            {},
            call(DIRECT, "+491701234567"),
            EnterQueue("q-acme-de", 10, Language("de", "number"), vip=True),
        ),
        (
            "VIP into the IVR keeps its priority",
            {},
            call(MAIN, "+491701234567"),
            EnterIvr("main", Language("de", "number"), 10),
        ),
        (
            "UK caller gets English",
            {},
            call(caller="+442079460018"),
            EnterIvr("main", Language("en", "number"), 0),
        ),
        (
            "US caller gets English",
            {},
            call(caller="+12125550123"),
            EnterIvr("main", Language("en", "number"), 0),
        ),
        (
            "French caller: no mapping → default",
            {},
            call(caller="+33142685300"),
            EnterIvr("main", Language("de", "default"), 0),
        ),
        (
            "anonymous caller → default",
            {},
            call(caller=None),
            EnterIvr("main", Language("de", "default"), 0),
        ),
        (
            "hint wins over number",
            {},
            call(caller="+442079460018", hint="de"),
            EnterIvr("main", Language("de", "hint"), 0),
        ),
        (
            "hint not offered is ignored",
            {},
            call(caller="+442079460018", hint="fr"),
            EnterIvr("main", Language("en", "number"), 0),
        ),
    ],
)
def test_route_open(
    label: str, tenant_changes: dict[str, object], ctx: CallContext, expected: object
) -> None:
    tenant = make_tenant(**tenant_changes)
    assert route(tenant, ctx, {"q-acme-de": STAFFED, "q-acme-en": STAFFED}) == expected, label


def test_language_from_number_disabled() -> None:
    tenant = make_tenant()
    tenant = dataclasses.replace(
        tenant, routing=dataclasses.replace(tenant.routing, language_from_number=False)
    )
    assert pick_language(tenant, call(caller="+442079460018")) == Language("de", "default")


@pytest.mark.parametrize(
    ("label", "tenant_changes", "when", "status", "opening"),
    [
        (
            "evening",
            {},
            datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
            OpenStatus("closed"),
            datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
        ),
        (
            "Bavarian holiday",
            {},
            datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
            OpenStatus("holiday", "Epiphany"),
            datetime(2026, 1, 7, 7, 0, tzinfo=UTC),
        ),
        (
            "same day in Berlin is open",
            {"holidays": HolidayRule("DE", "BE")},
            datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
            None,
            None,
        ),
        (
            "company holidays",
            {"closures": (closure("2026-12-24T00:00", "2027-01-01T00:00", "Betriebsferien"),)},
            datetime(2026, 12, 28, 9, 0, tzinfo=UTC),
            OpenStatus("closed", "Betriebsferien"),
            datetime(2027, 1, 4, 7, 0, tzinfo=UTC),
        ),
        ("emergency", {"emergency_closed": True}, OPEN_MONDAY, OpenStatus("emergency"), None),
    ],
)
def test_route_closed(
    label: str,
    tenant_changes: dict[str, object],
    when: datetime,
    status: OpenStatus | None,
    opening: datetime | None,
) -> None:
    tenant = make_tenant(**tenant_changes)
    decision = route(tenant, call(caller="+442079460018", when=when), {})
    if status is None:
        assert isinstance(decision, EnterIvr), label
        return
    assert decision == ClosedAnnouncement(
        status, opening, Language("en", "number"), "acme", "closed"
    ), label


GERMAN = Language("de", "default")


@pytest.mark.parametrize(
    ("label", "queue", "load", "caller", "expected"),
    [
        ("staffed queue", "q-acme-de", STAFFED, None, EnterQueue("q-acme-de", 0, GERMAN, False)),
        (
            "VIP priority",
            "q-acme-de",
            STAFFED,
            "+491701234567",
            EnterQueue("q-acme-de", 10, GERMAN, True),
        ),
        (
            "nobody logged in → voicemail",
            "q-acme-de",
            QueueLoad(0, 0, 0, 0.0),
            None,
            Overflow("voicemail", "q-acme-de", "no_agents", GERMAN, 0, None, "acme"),
        ),
        (
            "logged in but all busy is not 'no agents'",
            "q-acme-de",
            QueueLoad(2, 0, 3, 30.0),
            None,
            EnterQueue("q-acme-de", 0, GERMAN, False),
        ),
        (
            "8 waiting is still fine",
            "q-acme-de",
            QueueLoad(3, 0, 8, 30.0),
            None,
            EnterQueue("q-acme-de", 0, GERMAN, False),
        ),
        (
            "9 waiting → overflow queue",
            "q-acme-de",
            QueueLoad(3, 0, 9, 30.0),
            None,
            Overflow("queue", "q-acme-de", "callers_over:8", GERMAN, 0, "q-pool-de", "acme"),
        ),
        (
            "VIP keeps priority in overflow",
            "q-acme-de",
            QueueLoad(3, 0, 9, 30.0),
            "+491701234567",
            Overflow("queue", "q-acme-de", "callers_over:8", GERMAN, 10, "q-pool-de", "acme"),
        ),
        (
            "180 s wait is still fine",
            "q-acme-de",
            QueueLoad(3, 0, 2, 180.0),
            None,
            EnterQueue("q-acme-de", 0, GERMAN, False),
        ),
        (
            "181 s wait → callback offer",
            "q-acme-de",
            QueueLoad(3, 0, 2, 181.0),
            None,
            Overflow("callback", "q-acme-de", "wait_over:180", GERMAN, 0, None, "acme"),
        ),
        (
            "first matching rule wins",
            "q-acme-de",
            QueueLoad(3, 0, 20, 999.0),
            None,
            Overflow("queue", "q-acme-de", "callers_over:8", GERMAN, 0, "q-pool-de", "acme"),
        ),
        (
            "queue unknown to live state counts as unstaffed",
            "q-acme-de",
            None,
            None,
            Overflow("voicemail", "q-acme-de", "no_agents", GERMAN, 0, None, "acme"),
        ),
        (
            "overflow queue has no rules of its own",
            "q-pool-de",
            QueueLoad(0, 0, 50, 900.0),
            None,
            EnterQueue("q-pool-de", 0, GERMAN, False),
        ),
        ("queue by language", None, STAFFED, None, EnterQueue("q-acme-de", 0, GERMAN, False)),
    ],
)
def test_decide_queue(
    label: str, queue: str | None, load: QueueLoad | None, caller: str | None, expected: object
) -> None:
    loads = {} if load is None else {queue or "q-acme-de": load}
    ctx = call(caller=caller)
    assert decide_queue(make_tenant(), queue, ctx, GERMAN, loads) == expected, label


def test_english_queue_overflow_to_callback() -> None:
    english = Language("en", "number")
    decision = decide_queue(
        make_tenant(), None, call(caller=None), english, {"q-acme-en": QueueLoad.unknown()}
    )
    assert decision == Overflow("callback", "q-acme-en", "no_agents", english, 0, None, "acme")


def test_unroutable_language_is_not_switched() -> None:
    french = Language("fr", "hint")
    decision = decide_queue(make_tenant(), None, call(caller=None), french, {})
    assert decision == Unroutable("no queue for language 'fr'", french)


def test_crm_vip_flag_gives_priority() -> None:
    ctx = dataclasses.replace(call(DIRECT, "+4930999999"), crm_vip=True, crm_contact_id="c-17")
    decision = route(make_tenant(), ctx, {"q-acme-de": STAFFED})
    assert decision == EnterQueue("q-acme-de", 10, Language("de", "number"), vip=True)
