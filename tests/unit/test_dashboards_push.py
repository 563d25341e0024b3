"""The live hub: one render per frame and group, per-client insert/replace/delete, re-sync."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from callcenter.bus import InProcessBus
from dashboards.client import Client
from dashboards.push import CONSOLE, WALLBOARD, Hub
from dashboards.render import Fragments, make_environment
from dashboards.views import CallFlags, TenantInfo, Thresholds


class FakeSource:
    """A live state as plain dicts (pure unit test: no PBX)."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}

    def call_view(self, linkedid: str) -> Mapping[str, Any] | None:
        return self.calls.get(linkedid)

    def call_flags(self, linkedid: str) -> CallFlags:
        return CallFlags(held=bool(self.calls.get(linkedid, {}).get("held")))

    def queue_view(self, name: str) -> Mapping[str, Any] | None:
        return self.queues.get(name)

    def agent_view(self, interface: str) -> Mapping[str, Any] | None:
        return self.agents.get(interface, {"interface": interface, "status": "logged_out"})

    def call_ids(self) -> Iterable[str]:
        return list(self.calls)

    def queue_names(self) -> Iterable[str]:
        return list(self.queues)

    def agent_views(self) -> Mapping[str, Mapping[str, Any]]:
        return self.agents


class FakeSocket:
    closed = False


def waiting(linkedid: str, position: int = 1) -> dict[str, Any]:
    return {
        "linkedid": linkedid,
        "phase": "queued",
        "tenant": "acme",
        "caller": "+4930123456",
        "queued_at": 1_700_000_000.0,
        "position": position,
    }


def make_hub(source: FakeSource) -> Hub:
    envs = {loc: make_environment(loc) for loc in ("de", "en")}
    tenants = {"acme": TenantInfo("ACME", "ACME, {agent}")}

    def lookup(slug: str | None) -> TenantInfo | None:
        return tenants.get(slug or "")

    fragments = Fragments(envs, lookup, lambda _q: Thresholds())
    return Hub(source, InProcessBus(), fragments, reasons=("break",))


def client(view: str = CONSOLE, locale: str = "en") -> Client:
    return Client(FakeSocket(), view, locale, "Local/agent1@agents/n")  # type: ignore[arg-type]


def test_first_sync_fills_every_container() -> None:
    source = FakeSource()
    source.calls["c.1"] = waiting("c.1")
    hub = make_hub(source)
    c = client()
    hub.attach(c)
    text = c.take()
    assert '<div id="calls" hx-swap-oob="innerHTML"><article id="call-c_1"' in text
    assert 'id="me-state"' in text and "Logged out" in text
    assert c.known == {"call-c_1"}


def test_changes_are_inserted_replaced_and_deleted_per_client() -> None:
    source = FakeSource()
    hub = make_hub(source)
    c = client()
    hub.attach(c)
    c.take()
    source.calls["c.1"] = waiting("c.1")
    hub.mark("calls", {"type": "call.queued", "linkedid": "c.1", "queue": "q1"})
    hub.flush()
    assert c.take().startswith('<div hx-swap-oob="beforeend:#calls"><article id="call-c_1"')
    source.calls["c.1"] = {**waiting("c.1"), "phase": "answered", "answered_at": 1.0}
    hub.mark("calls", {"type": "call.answered", "linkedid": "c.1"})
    hub.flush()
    replaced = c.take()
    assert (
        replaced.startswith('<article hx-swap-oob="true" id="call-c_1"') and "On call" in replaced
    )
    hub.mark("calls", {"type": "call.updated", "linkedid": "c.1"})  # nothing shown changed
    hub.flush()
    assert c.take() == ""
    del source.calls["c.1"]
    hub.mark("calls", {"type": "call.ended", "linkedid": "c.1"})
    hub.flush()
    assert c.take() == '<div id="call-c_1" hx-swap-oob="delete"></div>'
    assert c.known == set()


def test_a_slow_client_gets_only_the_newest_version() -> None:
    source = FakeSource()
    hub = make_hub(source)
    c = client()
    hub.attach(c)
    c.take()
    for position in (3, 2, 1):
        source.calls["c.1"] = waiting("c.1", position)
        hub.mark("queues", {"type": "queue.caller_joined", "linkedid": "c.1", "queue": "q1"})
        hub.flush()  # the writer did not run in between
    text = c.take()
    assert text.count("call-c_1") == 1 and text.startswith('<div hx-swap-oob="beforeend')
    assert c.skipped == 2
    # inserted then gone before the writer ran: the page never hears of it
    source.calls["c.2"] = waiting("c.2")
    hub.mark("calls", {"type": "call.queued", "linkedid": "c.2"})
    hub.flush()
    del source.calls["c.2"]
    hub.mark("calls", {"type": "call.ended", "linkedid": "c.2"})
    hub.flush()
    assert c.take() == ""


def test_one_render_per_group_and_languages_apart() -> None:
    source = FakeSource()
    hub = make_hub(source)
    clients = [client(locale="en") for _ in range(3)] + [client(locale="de")]
    for c in clients:
        hub.attach(c)
        c.take()
    source.calls["c.1"] = waiting("c.1")
    hub.mark("calls", {"type": "call.queued", "linkedid": "c.1"})
    hub.flush()
    texts = [c.take() for c in clients]
    assert texts[0] == texts[1] == texts[2] and "Waiting" in texts[0]
    assert "Wartet" in texts[3]


def test_wallboard_tiles_agents_and_resync() -> None:
    source = FakeSource()
    source.queues["q1"] = {"name": "q1", "tenant": "acme", "calls": 0, "callers": []}
    hub = make_hub(source)
    c = client(WALLBOARD)
    hub.attach(c)
    assert 'id="tile-q1"' in c.take()
    source.agents["Local/a@agents/n"] = {
        "interface": "Local/a@agents/n",
        "name": "Anna",
        "status": "not_inuse",
        "since": 1.0,
        "queues": [{"queue": "q1"}],
    }
    hub.mark(
        "agents",
        {"type": "agent.status", "interface": "Local/a@agents/n", "queues": [{"queue": "q1"}]},
    )
    hub.flush()
    text = c.take()
    assert "beforeend:#agents" in text and "Anna" in text and 'id="tile-q1"' in text
    hub.mark("calls", {"type": "resynced"})
    hub.flush()
    assert '<div id="tiles" hx-swap-oob="innerHTML">' in c.take()  # full state again


def test_offline_positions_phone_badges_and_the_wrapup_countdown() -> None:
    from callcenter.pbx.ami.message import Message
    from dashboards.push import Today

    source = FakeSource()
    phones = {"PJSIP/desk-anna": True}
    envs = {loc: make_environment(loc) for loc in ("de", "en")}
    fragments = Fragments(envs, lambda _slug: None, lambda _q: Thresholds())
    hub = Hub(
        source,
        InProcessBus(),
        fragments,
        reasons=("break", "wrapup"),
        wrapup_seconds=30,
        phones=lambda: dict(phones),
    )
    hub.today = Today(staff={"PJSIP/desk-anna": "Anna", "Local/b@agents/n": "Bert"})
    board = client(WALLBOARD)
    hub.attach(board)
    text = board.take()
    # Nobody logged in: both positions are listed as offline, Anna's phone is registered.
    assert 'data-interface="Local/b@agents/n" data-state="logged_out"' in text
    assert "Offline" in text and "Bert" in text and "data-agent-logout" not in text
    assert 'data-phone="registered"' in text
    me = Client(FakeSocket(), CONSOLE, "en", "PJSIP/desk-anna")  # type: ignore[arg-type]
    hub.attach(me)
    first = me.take()
    assert 'id="phone-badge"' in first and "Phone registered" in first
    # The phone goes away: a DeviceStateChange re-renders the badge on both pages.
    phones["PJSIP/desk-anna"] = False
    hub.on_ami(Message((("Event", "DeviceStateChange"), ("Device", "PJSIP/desk-anna"))))
    hub.flush()
    assert "Phone not registered" in me.take()
    assert 'data-phone="unregistered"' in board.take()
    # Wrap-up: the console counts down to the automatic return to ready.
    source.agents["PJSIP/desk-anna"] = {
        "interface": "PJSIP/desk-anna",
        "name": "Anna",
        "status": "not_inuse",
        "paused": True,
        "paused_reason": "wrapup",
        "since": 1000.0,
        "queues": [],
    }
    hub.mark("agents", {"type": "agent.status", "interface": "PJSIP/desk-anna"})
    hub.flush()
    assert 'class="countdown" data-until="1030.0"' in me.take()
    assert 'data-state="wrapup"' in board.take()
