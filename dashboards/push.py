"""Live updates for the console and the wallboard: bus events in, HTML fragments out.

Rule of this module: the hub renders each changed item once per *frame* and per group of
clients that see the same thing (view × language), then hands the same text to every
client of the group. Events only mark items dirty; a frame renders them from the live
state, so a burst of events costs one render. Frames come on the leading edge (at once after
a quiet spell) and at most one per ``frame`` seconds.

Each client (:mod:`dashboards.client`) tracks which item ids its page holds and is sent the
newest fragment of each item only (insert, replace or delete by id). On (re)connect a
client first gets every container in full: that is the re-sync after a lost connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.aio import wait_set
from callcenter.bus import Bus
from callcenter.pbx.ami.message import Message
from dashboards.client import Change, Client, oob
from dashboards.render import Fragments
from dashboards.source import LiveSource
from dashboards.views import TodayStats, agents_by_queue, element_id, tile

log = logging.getLogger(__name__)

CONSOLE, WALLBOARD = "console", "wallboard"
VIEWS = (CONSOLE, WALLBOARD)
TOPICS = ("calls", "queues", "agents")
ME = "me-state"
ABANDONED = "abandoned"
Dirty = dict[str, set[str]]
"""What changed since the last frame, by kind (call linkedids, queue names, interfaces)."""
# AMI events that change what a call card shows without a bus event of their own: a
# Redirect into hold/consultation (bridge left, new context) and parking.
_BRIDGE_EVENTS = frozenset({"BridgeEnter", "BridgeLeave", "Hold", "Unhold"})
_CONTROL_CONTEXTS = frozenset({"cc-hold", "cc-agent-wait", "cc-consult", "cc-pickup"})

Item = tuple[str, str]  # (collection, key)


@dataclass
class Today:
    """Today's numbers per queue and the abandoned calls, refreshed from the database."""

    per_queue: dict[str, TodayStats] = field(default_factory=dict)
    abandoned: list[Mapping[str, Any]] = field(default_factory=list)
    callbacks: dict[str, tuple[int, int]] = field(default_factory=dict)
    tenant_ids: dict[str, int] = field(default_factory=dict)  # slug -> id (for REST paths)
    # Every receptionist position (interface -> name): shown offline when not logged in.
    staff: dict[str, str] = field(default_factory=dict)


TodayLoader = Callable[[], Awaitable[Today]]
PhoneLookup = Callable[[], Mapping[str, bool]]
"""Agent interface (``PJSIP/<phone>``) → its phone is registered; interfaces without a
provisioned phone are absent. Asked at most once per frame."""


def no_phones() -> Mapping[str, bool]:
    return {}


# Collections: (view, name) -> container element id. Items get id f"{name}-{key}".
CONTAINERS = {
    (CONSOLE, "call"): "calls",
    (WALLBOARD, "tile"): "tiles",
    (WALLBOARD, "agent"): "agents",
}


class Group:
    """Clients that see the same fragments, and the last fragment each item had."""

    def __init__(self, view: str, locale: str) -> None:
        self.view, self.locale = view, locale
        self.clients: set[Client] = set()
        self.items: dict[str, str] = {}  # element id -> html
        self.primed = False


class Hub:
    """Fans the live state out to the connected consoles and wallboards."""

    def __init__(
        self,
        source: LiveSource,
        bus: Bus,
        fragments: Fragments,
        *,
        reasons: tuple[str, ...] = (),
        wrapup_seconds: float = 0,
        phones: PhoneLookup = no_phones,
        today: TodayLoader | None = None,
        frame: float = 0.02,
        today_every: float = 30.0,
        today_after_call: float = 1.0,
    ) -> None:
        self.source, self.bus, self.fragments = source, bus, fragments
        self.reasons = reasons
        self.wrapup_seconds = wrapup_seconds  # shown as a countdown on the console
        self.phones = phones
        self._phone_map: Mapping[str, bool] | None = None  # this frame's answer of phones()
        self.load_today = today
        self.today = Today()
        self.frame = frame
        self.today_every, self.today_after_call = today_every, today_after_call
        self.groups: dict[tuple[str, str], Group] = {}
        self._dirty: dict[str, set[str]] = {"call": set(), "queue": set(), "agent": set()}
        self._everything = False
        self._wake = asyncio.Event()
        self._today_wake = asyncio.Event()
        self.frames = 0
        self.events = 0

    # ---------------------------------------------------------------- clients

    def group(self, view: str, locale: str) -> Group:
        key = (view, locale)
        if key not in self.groups:
            self.groups[key] = Group(view, locale)
        return self.groups[key]

    def attach(self, client: Client) -> None:
        """Register a client and queue the full state for it (first sync / re-sync)."""
        group = self.group(client.view, client.locale)
        self._phone_map = None
        if not group.primed:
            self._prime(group)
        group.clients.add(client)
        for (view, collection), container in CONTAINERS.items():
            if view != client.view:
                continue
            prefix = collection + "-"
            ids = [e for e in group.items if e.startswith(prefix)]
            body = "".join(group.items[e] for e in ids)
            client.full.append(f'<div id="{container}" hx-swap-oob="innerHTML">{body}</div>')
            client.known.update(ids)
        if client.view == WALLBOARD:
            client.full.append(oob(self._abandoned_html(group.locale)))
        if client.view == CONSOLE:
            client.full.append(oob(self._me_html(group.locale, client.interface)))
        client.ready.set()

    def detach(self, client: Client) -> None:
        group = self.groups.get((client.view, client.locale))
        if group is not None:
            group.clients.discard(client)

    @property
    def clients(self) -> int:
        return sum(len(g.clients) for g in self.groups.values())

    # ---------------------------------------------------------------- events

    def mark(self, topic: str, event: Mapping[str, Any]) -> None:
        """Note what an event changed; the next frame renders it."""
        self.events += 1
        kind = event.get("type", "")
        if kind == "resynced":
            self._everything = True
        else:
            linkedid, queue = event.get("linkedid"), event.get("queue")
            if linkedid:
                self._dirty["call"].add(str(linkedid))
            if queue:
                self._dirty["queue"].add(str(queue))
            if topic == "agents" and event.get("interface"):
                self._dirty["agent"].add(str(event["interface"]))
                for membership in event.get("queues") or ():
                    self._dirty["queue"].add(str(membership.get("queue")))
            if kind == "call.ended":
                self._today_wake.set()
        self._wake.set()

    def on_ami(self, msg: Message) -> None:
        """AMI listener (after the live state's): marks calls whose card changed."""
        name = msg.name
        if name == "DeviceStateChange":  # a phone registered or went away: its badge
            device = msg.get("Device") or ""
            if device.startswith("PJSIP/"):
                self._dirty["agent"].add(device)
                self._wake.set()
            return
        if name == "Newexten":
            if msg.get("Context") not in _CONTROL_CONTEXTS:
                return
        elif name not in _BRIDGE_EVENTS:
            return
        self._mark_call(msg.get("Linkedid") or "")

    def _mark_call(self, linkedid: str) -> None:
        if linkedid:
            self._dirty["call"].add(linkedid)
            self._wake.set()

    def refresh_all(self) -> None:
        """Everything may have changed (tenants reloaded): render every group anew."""
        self._everything = True
        self._wake.set()

    async def consume(self) -> None:
        async for topic, event in self.bus.subscribe(*TOPICS):
            self.mark(topic, event)

    async def frames_loop(self) -> None:
        # Leading edge: a change after a quiet spell goes out at once (one loop turn later,
        # so the rest of the AMI read that caused it is marked too); under load frames stay
        # ``frame`` apart, so a client never gets more than 1/frame messages a second.
        # Waiting a whole frame after every first mark cost each update up to 20 ms.
        loop = asyncio.get_running_loop()
        last = -self.frame
        while True:
            await self._wake.wait()
            await asyncio.sleep(max(0.0, last + self.frame - loop.time()))
            self._wake.clear()
            last = loop.time()
            try:
                self.flush()
            except Exception:  # a bad fragment must not stop the live updates
                log.exception("live frame failed")

    async def today_loop(self) -> None:
        if self.load_today is None:
            return
        while True:
            try:
                self.today = await self.load_today()
            except Exception as exc:  # database away: keep the last numbers
                log.warning("today's numbers not refreshed: %s", exc)
            self._dirty["queue"].update(self.source.queue_names())
            self._dirty["agent"].update(self.today.staff)  # names, offline positions
            self._dirty["abandoned"] = {ABANDONED}
            self._wake.set()
            self._today_wake.clear()
            await wait_set(self._today_wake, self.today_every)
            await asyncio.sleep(self.today_after_call)  # let the writer store the row

    # ---------------------------------------------------------------- rendering

    def _prime(self, group: Group) -> None:
        group.items = {}
        if group.view == CONSOLE:
            for lid in self.source.call_ids():
                self._render_call(group, lid)
        else:
            per_queue = agents_by_queue(self.source.agent_views())
            for name in self.source.queue_names():
                self._render_tile(group, name, per_queue)
            for interface in self._agent_interfaces():
                self._render_agent(group, interface)
        group.primed = True

    def _render_call(self, group: Group, linkedid: str) -> tuple[str, str | None]:
        elem = element_id("call", linkedid)
        view = self.source.call_view(linkedid)
        if view is not None:
            # Parking comes with the live state's view (call.parked/unparked events).
            parked = view.get("parked") or {}
            view = {
                **view,
                "parked_slot": parked.get("space") or None,
                "tenant_id": self.today.tenant_ids.get(str(view.get("tenant"))),
            }
        card = self.fragments.card(view, self.source.call_flags(linkedid)) if view else None
        html = self.fragments.call_html(group.locale, card) if card is not None else None
        return self._store(group, elem, html)

    def _render_tile(
        self, group: Group, name: str, per_queue: Mapping[str, dict[str, int]]
    ) -> tuple[str, str | None]:
        elem = element_id("tile", name)
        view = self.source.queue_view(name)
        html = None
        if view is not None:
            tenant = self.fragments.tenants(view.get("tenant"))
            t = tile(
                view,
                per_queue.get(name, {}),
                today=self.today.per_queue.get(name, TodayStats()),
                thresholds=self.fragments.thresholds(name),
                tenant_name=tenant.name if tenant else "",
                callbacks=self.today.callbacks.get(name, (0, 0)),
            )
            html = self.fragments.tile_html(group.locale, t)
        return self._store(group, elem, html)

    def _render_agent(self, group: Group, interface: str) -> tuple[str, str | None]:
        elem = element_id("agent", interface)
        view = self.source.agent_view(interface)
        html = None
        known = interface in self.today.staff
        if view is not None and (known or view.get("status") != "logged_out"):
            if view.get("status") == "logged_out":  # a position nobody is logged in to
                view = {**view, "name": self.today.staff[interface]}
            row = self.fragments.agent_row(view)
            html = self.fragments.agent_html(group.locale, row, self._phone(interface))
        return self._store(group, elem, html)

    def _phone(self, interface: str) -> bool | None:
        if self._phone_map is None:
            self._phone_map = self.phones()
        return self._phone_map.get(interface)

    def _agent_interfaces(self) -> list[str]:
        """Receptionists on the wallboard: logged in (app_queue members) or known positions."""
        return sorted(set(self.source.agent_views()) | set(self.today.staff))

    def _store(self, group: Group, elem: str, html: str | None) -> tuple[str, str | None]:
        if html is None:
            group.items.pop(elem, None)
        else:
            group.items[elem] = html
        return elem, html

    def _me_html(self, locale: str, interface: str | None) -> str:
        view = self.source.agent_view(interface) if interface else None
        phone = self._phone(interface) if interface else None
        return self.fragments.me_html(locale, view, self.reasons, self.wrapup_seconds, phone)

    def _abandoned_html(self, locale: str) -> str:
        return self.fragments.abandoned_html(locale, self.today.abandoned)

    def flush(self) -> None:
        """Render what changed since the last frame and offer it to the clients."""
        dirty, everything = self._dirty, self._everything
        self._dirty = {"call": set(), "queue": set(), "agent": set()}
        self._everything = False
        self._phone_map = None
        self.frames += 1
        for group in list(self.groups.values()):
            if not group.clients:
                group.primed = False  # re-rendered in full when somebody connects again
                continue
            if everything:
                self._resync(group)
                continue
            if group.view == CONSOLE:
                changed = self._console_changes(group, dirty)
            else:
                changed = self._wallboard_changes(group, dirty)
            for elem, container, html in changed:
                for client in group.clients:
                    client.offer(elem, container, html)

    def _console_changes(self, group: Group, dirty: Dirty) -> list[Change]:
        """Changed call cards; each client's own agent pane is offered to it directly."""
        changed: list[Change] = []
        for lid in dirty["call"]:
            before = group.items.get(element_id("call", lid))
            elem, html = self._render_call(group, lid)
            if html != before:
                changed.append((elem, "calls", html))
        if dirty["agent"]:
            for client in group.clients:
                if client.interface in dirty["agent"]:
                    client.offer(ME, None, self._me_html(group.locale, client.interface))
        return changed

    def _wallboard_changes(self, group: Group, dirty: Dirty) -> list[Change]:
        changed: list[Change] = []
        per_queue = agents_by_queue(self.source.agent_views()) if dirty["queue"] else {}
        for name in dirty["queue"]:
            before = group.items.get(element_id("tile", name))
            elem, html = self._render_tile(group, name, per_queue)
            if html != before:
                changed.append((elem, "tiles", html))
        for interface in dirty["agent"]:
            before = group.items.get(element_id("agent", interface))
            elem, html = self._render_agent(group, interface)
            if html != before:
                changed.append((elem, "agents", html))
        if dirty.get("abandoned"):
            changed.append((ABANDONED, None, self._abandoned_html(group.locale)))
        return changed

    def _resync(self, group: Group) -> None:
        self._prime(group)
        for client in list(group.clients):
            client.forget()
            self.attach(client)
