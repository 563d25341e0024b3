"""Pure view rules of the console and wallboard: agent states, tile levels, call cards."""

from __future__ import annotations

import pytest

from dashboards.views import (
    CallFlags,
    TenantInfo,
    Thresholds,
    TodayStats,
    agent_state,
    agents_by_queue,
    call_card,
    element_id,
    tile,
)


@pytest.mark.parametrize(
    ("view", "state"),
    [
        ({"status": "logged_out"}, "logged_out"),
        ({"status": "not_inuse", "in_call": False, "paused": False}, "ready"),
        ({"status": "ringing", "in_call": False}, "ringing"),
        ({"status": "inuse", "in_call": True, "paused": True}, "on_call"),
        ({"status": "not_inuse", "paused": True, "paused_reason": "lunch"}, "paused"),
        ({"status": "not_inuse", "paused": True, "paused_reason": "wrapup"}, "wrapup"),
        ({"status": "not_inuse", "paused": True, "paused_reason": "break, wrapup"}, "wrapup"),
    ],
)
def test_agent_state(view: dict[str, object], state: str) -> None:
    assert agent_state(view) == state


def test_agents_are_counted_per_queue() -> None:
    agents: dict[str, dict[str, object]] = {
        "a": {"status": "not_inuse", "queues": [{"queue": "q1"}, {"queue": "q2"}]},
        "b": {"status": "inuse", "in_call": True, "queues": [{"queue": "q1"}]},
    }
    assert agents_by_queue(agents) == {"q1": {"ready": 1, "on_call": 1}, "q2": {"ready": 1}}


@pytest.mark.parametrize(
    ("longest", "waiting", "stats", "level"),
    [
        (5.0, 1, TodayStats(10, 10, 0, 10, 0), "ok"),
        (31.0, 1, TodayStats(10, 10, 0, 10, 0), "amber"),
        (61.0, 1, TodayStats(10, 10, 0, 10, 0), "red"),
        (5.0, 3, TodayStats(10, 10, 0, 10, 0), "amber"),
        (5.0, 6, TodayStats(), "red"),
        (5.0, 0, TodayStats(10, 7, 3, 7, 0), "amber"),  # service level 70 %
        (5.0, 0, TodayStats(10, 5, 5, 5, 0), "red"),  # 50 %
        (5.0, 0, TodayStats(10, 8, 2, 8, 2), "ok"),  # short abandons left out: 8/8
        (5.0, 0, TodayStats(), "ok"),  # nothing offered: no service level, no alarm
    ],
)
def test_tile_levels(longest: float, waiting: int, stats: TodayStats, level: str) -> None:
    queue = {"name": "q1", "tenant": "t", "calls": waiting, "longest_wait": longest}
    t = tile(queue, {}, today=stats, thresholds=Thresholds())
    assert t.level == level


def test_service_level_and_abandon_rate() -> None:
    stats = TodayStats(offered=10, answered=6, abandoned=4, answered_in_time=5, short_abandons=2)
    assert stats.service_level == pytest.approx(5 / 8)
    assert stats.abandon_rate == pytest.approx(0.4)
    assert TodayStats().service_level is None and TodayStats().abandon_rate is None


def call_view(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "linkedid": "1700000000.1",
        "phase": "queued",
        "tenant": "acme",
        "caller": "+4915112345678",
        "caller_name": "Erika",
        "queued_at": 1_700_000_100.0,
        "entered_at": 1_700_000_090.0,
        "position": 2,
        "crm_status": "unknown",
        "contact_name": "Unknown caller",
    }
    base.update(extra)
    return base


def test_call_card_of_a_waiting_call() -> None:
    tenant = TenantInfo("ACME GmbH", "ACME, {agent}", frozenset({"+4915112345678"}))
    card = call_card(call_view(), tenant)
    assert card is not None
    assert card.waiting and card.position == 2 and card.since == 1_700_000_100.0
    assert card.tenant_name == "ACME GmbH" and card.greeting == "ACME, {agent}"
    assert card.vip  # the tenant's VIP list
    assert card.contact_name is None  # "Unknown caller" is the screen pop's description
    assert card.sort < 10_000_000  # waiting calls before calls in progress


def test_call_card_of_an_answered_matched_call() -> None:
    view = call_view(
        phase="answered", answered_at=1_700_000_130.0, crm_status="contact", contact_name="E. M."
    )
    card = call_card(view, None, CallFlags(held=True))
    assert card is not None and not card.waiting and card.held
    assert card.contact_name == "E. M." and card.since == 1_700_000_130.0
    assert card.sort >= 10_000_000


@pytest.mark.parametrize("phase", ["ivr", "left", ""])
def test_calls_outside_queues_are_not_shown(phase: str) -> None:
    assert call_card(call_view(phase=phase), None) is None


def test_element_ids_are_safe() -> None:
    assert element_id("call", "1700000000.1") == "call-1700000000_1"
    assert element_id("agent", "Local/agent1@agents/n") == "agent-Local_agent1_agents_n"
    assert element_id("x", '"><script>') == "x-___script_"


def test_the_ivr_path_reaches_the_call_view_and_the_card() -> None:
    from callcenter.state.live import LiveState
    from tests.fixtures.state.builder import Pbx

    state, pbx = LiveState(), Pbx()
    one, two = pbx.inbound("+493012345600", "+4930111222", tenant="acme")
    pbx.event("VarSet", two, Variable="CC_IVR_PATH", Value="main>2>staff")
    pbx.to_queue(two, "q-acme-de")
    for msg in pbx.log:
        state.apply(msg)
    view = state.calls[one.uniqueid].view(pbx.t, "DE")
    assert view["ivr_path"] == "main>2>staff"
    card = call_card(view, None)
    assert card is not None and card.ivr_path == "main>2>staff"


def test_queue_thresholds_come_from_the_tenant_file_and_follow_reloads() -> None:
    import dataclasses

    from dashboards.plugin import threshold_lookup
    from dashboards.render import make_environment
    from ivr.loader import LoadedTenant
    from ivr.registry import TenantRegistry
    from ivr.tenancy import QueueAlerts
    from ivr.testing import make_tenant

    tenant = make_tenant()
    rules = tenant.routing
    strict = QueueAlerts(wait=(10.0, 20.0), waiting=(1, 2), service_level=(95.0, 90.0))
    queues = (dataclasses.replace(rules.queues[0], alerts=strict), *rules.queues[1:])
    routing = dataclasses.replace(rules, queues=queues, alerts=QueueAlerts(wait=(40.0, 90.0)))
    registry = TenantRegistry()
    registry.replace([LoadedTenant(dataclasses.replace(tenant, routing=routing), ())])
    lookup = threshold_lookup(registry)
    assert lookup("q-acme-de") == Thresholds(10.0, 20.0, 1, 2, 0.95, 0.90)
    assert lookup("q-acme-en") == Thresholds(wait_amber=40.0, wait_red=90.0)
    assert lookup("q-other") == Thresholds()
    # One caller, 15 s: fine by default, amber by q-acme-de's own thresholds.
    view = {"name": "q-acme-de", "tenant": "acme", "calls": 1, "longest_wait": 15.0}
    strict_tile = tile(view, {}, today=TodayStats(), thresholds=lookup("q-acme-de"))
    assert (strict_tile.level_wait, strict_tile.level_waiting) == ("amber", "amber")
    assert tile(view, {}, today=TodayStats(), thresholds=lookup("q-x")).level == "ok"
    html = make_environment("en").get_template("parts/tile.html").render(tile=strict_tile)
    assert 'data-amber="10" data-red="20"' in html  # the page's timer turns it red at 20 s
    assert "Amber from 0:10, red from 0:20 longest wait" in html
    registry.replace([LoadedTenant(tenant, ())])  # a tenant reload without the alerts
    assert lookup("q-acme-de") == Thresholds()


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Transfer to +4915199999999 failed: the line is busy. The caller is back with you."),
        ("de", "Weiterleitung an +4915199999999 fehlgeschlagen: die Leitung ist besetzt."),
    ],
)
def test_a_failed_transfer_shows_on_the_card(locale: str, text: str) -> None:
    """Issue #8 defect 8: the console says why the caller is back."""
    from dashboards.render import Fragments, make_environment

    view = call_view(
        phase="answered",
        answered_at=1_700_000_130.0,
        transfer_failed={"target": "+4915199999999", "status": "BUSY", "reason": "busy"},
    )
    card = call_card(view, None)
    assert card is not None and card.transfer_failed == ("+4915199999999", "BUSY")
    fragments = Fragments(
        {locale: make_environment(locale)}, lambda _s: None, lambda _q: Thresholds()
    )
    html = " ".join(fragments.call_html(locale, card).split())
    assert text in html
    assert call_card(call_view(phase="answered"), None).transfer_failed is None  # type: ignore[union-attr]
