"""The callbacks feature in the app: the caller's dialog (:mod:`callbacks.desk`, for the
callback key in the queue and the IVR's callback node), the automatic offer
(:mod:`callbacks.offering`), the dialler and the REST routes.


The dialler's owner id is stable per host and port, so an instance restarted in place
adopts its own callbacks at once (:meth:`~.dialer.Dialer.reconcile` with ``mine``); other
instances take them over when the lease runs out. Without a PBX nothing is wired but the
routes (the list, cancel, reprioritise … still work on the tables).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Collection, Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from callbacks import http
from callbacks.desk import HANDOFF, OfferDesk, QueuePlace
from callbacks.desk import PURPOSE as OFFER
from callbacks.dialer import Dialer
from callbacks.dispatch import PURPOSE_CUSTOMER, PURPOSE_SLOT, parse_channel_id
from callbacks.leases import LeaseStore
from callbacks.offering import PURPOSE as OFFER_ANNOUNCE
from callbacks.offering import Candidate, OfferAnnouncer
from callbacks.ordering import Place
from callbacks.prompts import Media, install_placeholders
from callbacks.retry import RetryPolicy
from callbacks.settings import retry_policy, window_of
from callbacks.store import CallbackRepository
from callbacks.window import Window
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.runtime import PbxInstance
from callcenter.phone.policy import DestinationPolicy, policy_for
from callcenter.plugin import Feature
from callcenter.services import Services
from callcenter.state.live import LiveState
from callcenter.state.service import LiveStateService
from callcenter.topics import TOPIC_CALLBACKS
from ivr.plugin import TENANTS
from ivr.position import Waiting, estimated_wait_s
from ivr.queue_load import queue_loads
from ivr.registry import TenantRegistry

TOPIC = TOPIC_CALLBACKS


def tenant_window(registry: TenantRegistry, slug: str, now: datetime) -> Window:
    """When ``slug``'s callbacks may be dialled: its dialling hours ([callbacks] hours
    within the opening hours) minus its closing margin."""
    tenant = registry.get(slug)
    if tenant is None:  # unknown to the IVR (API-only tenant): no hours to respect
        return Window(True, None)
    return window_of(tenant, now)


def tenant_policy(registry: TenantRegistry, slug: str) -> RetryPolicy | None:
    tenant = registry.get(slug)
    return retry_policy(tenant.callbacks) if tenant is not None else None


def tenant_mode(registry: TenantRegistry, slug: str) -> str:
    tenant = registry.get(slug)
    return tenant.callbacks.mode if tenant is not None else "agent_first"


def tenant_max_age(registry: TenantRegistry, slug: str) -> float | None:
    tenant = registry.get(slug)
    return tenant.callbacks.max_age if tenant is not None else None


def tenant_assign_fallback(registry: TenantRegistry, slug: str) -> float:
    tenant = registry.get(slug)
    return tenant.callbacks.assign_fallback if tenant is not None else 600.0


async def ami_nudge(ami: AmiClient, slot: str) -> None:
    """The placeholder's ``;1`` receives a ``#`` (see :meth:`Dialer._nudge`)."""
    await ami.send_action("PlayDTMF", {"Channel": slot, "Digit": "#", "Receive": "true"})


def free_receptionists(state: LiveState) -> dict[str, str]:
    """Receptionists free now (member name → interface): logged in, not paused, not in a
    call in any of their queues. An assigned callback rings only one of these."""
    free: dict[str, str] = {}
    busy: set[str] = set()
    for member in state.agents.members.values():
        if member.status == 1 and not member.paused and not member.in_call:
            free.setdefault(member.name, member.interface)
        else:
            busy.add(member.name)
    return {name: iface for name, iface in free.items() if name not in busy}


def queue_position_of(state: LiveState, queue: str, channel_id: str) -> int | None:
    """Where a placeholder waits in app_queue now (1 = head), from the live state."""
    q = state.queues.get(queue)
    waiting = q.waiting.get(channel_id) if q is not None else None
    return waiting.position if waiting is not None else None


def callbacks_enabled(registry: TenantRegistry, slug: str) -> bool:
    tenant = registry.get(slug)
    return tenant is None or tenant.callbacks.enabled


def wire(services: Services) -> None:
    """The routes always; with a PBX the hand-off desk, the key desk and the dialler."""
    registry = services.require(TENANTS)
    config = services.config
    region = config.tenants.default_region
    repo = CallbackRepository(services.db, max_age=lambda slug: tenant_max_age(registry, slug))
    dialer: Dialer | None = None
    pbx = services.pbx
    live = pbx.live if pbx is not None else None

    def policy(slug: str) -> DestinationPolicy:
        return policy_for(
            registry.get(slug), region=region, max_call_seconds=config.agents.max_call_seconds
        )

    async def publish(event: str, payload: Mapping[str, Any]) -> None:
        await services.bus.publish(TOPIC, {"type": event, **payload})

    if pbx is not None and live is not None:
        owner = f"{socket.gethostname()}:{config.app.port}"
        instance = PbxInstance(config.pbx, config.app.data_dir)
        media = Media(instance.sound_path("callbacks"))
        dialer = Dialer(
            LeaseStore(services.db, owner),
            pbx.ari,
            waiting=lambda queue: queue_entries(live.state, queue),
            open_tenants=lambda now: open_tenants(registry, now, live.state.queue_tenants),
            caller_id=lambda slug: first_number(registry, slug),
            publish=publish,
            policy_for=lambda slug: tenant_policy(registry, slug),
            mode_for=lambda slug: tenant_mode(registry, slug),
            position_of=lambda queue, channel: queue_position_of(live.state, queue, channel),
            guard_media=lambda _job: [media.phrase("cb-press-1")],
            ready=lambda: pbx.ari.connected,
            free_agents=lambda: free_receptionists(live.state),
            nudge=lambda slot: ami_nudge(pbx.ami, slot),
        )
        desk = OfferDesk(
            pbx.ari,
            repo,
            media,
            region=region,
            policy=policy,
            place_of=lambda linkedid: place_of(live, linkedid),
            end_of=lambda queue: place_at_end(live, queue),
            window=lambda slug, now: tenant_window(registry, slug, now),
            on_stored=lambda _id: dialer.wake() if dialer else None,
            enabled=lambda slug: callbacks_enabled(registry, slug),
        )
        offers = OfferAnnouncer(
            pbx.ari,
            media,
            lambda: offer_candidates(live, registry),
        )
        pbx.stasis.register(OFFER_ANNOUNCE, offers.on_stasis_start)
        pbx.stasis.register(OFFER, desk.on_stasis_start)
        pbx.stasis.register(HANDOFF, desk.on_handoff)
        pbx.stasis.register(PURPOSE_SLOT, dialer.on_stasis_start)
        pbx.stasis.register(PURPOSE_CUSTOMER, dialer.on_stasis_start)
        # Its placeholders and customer legs survive a restart in Stasis; the dialler adopts
        # them by id (reconcile), so the orphan recovery must not hand them back.
        pbx.stasis.claim(lambda channel_id: parse_channel_id(channel_id) is not None)

        async def ari_events(event: AriEvent) -> None:
            if event.type != "StasisStart":
                await desk.on_event(event)
                await offers.on_event(event)
                assert dialer is not None
                await dialer.on_ari_event(event)

        pbx.ari.add_handler(ari_events)
        pbx.ari.on_connect(dialer.on_ari_connected)
        pbx.ami.add_event_listener(lambda msg: _spawn_ami(dialer, msg))

        async def run(_app: web.Application) -> AsyncIterator[None]:
            if instance.running():
                install_placeholders(instance.sounds_dir)
            assert dialer is not None
            await dialer.start()
            await offers.start()
            yield
            await offers.close()
            await dialer.close()
            await desk.close()

        services.lifecycles.append(run)
    services.http_setups.append(
        lambda app: http.setup(
            app,
            services.db,
            repo,
            policy,
            dialer,
            live=(lambda queue: live_places(live.state, queue)) if live is not None else None,
            publish=publish,
            assign_fallback=lambda slug: tenant_assign_fallback(registry, slug),
        )
    )


# What the dialler listens to (Dialer.on_ami_event).
DIALER_AMI_EVENTS = ("AgentConnect", "QueueMemberStatus", "QueueCallerJoin")


def _spawn_ami(dialer: Dialer | None, msg: Any) -> None:
    if dialer is not None and msg.name in DIALER_AMI_EVENTS:
        import asyncio

        asyncio.get_running_loop().create_task(dialer.on_ami_event(msg))


def queue_entries(state: LiveState, queue: str) -> list[Place]:
    """Everybody in ``queue`` in app_queue now, live callers and callbacks' placeholders,
    keyed by channel id (the dialler gives a placeholder its callback's own place)."""
    q = state.queues.get(queue)
    if q is None:
        return []
    return [Place(w.uniqueid, 0, w.joined_at) for w in q.waiting.values()]


def live_places(state: LiveState, queue: str) -> list[Place]:
    """Live callers waiting in ``queue`` (placeholders come from the table, not here)."""
    return [p for p in queue_entries(state, queue) if parse_channel_id(p.key) is None]


def open_tenants(
    registry: TenantRegistry, now: datetime, provisioned: Mapping[str, str]
) -> Collection[str] | None:
    """Tenants whose callbacks may be dialled now; None: no tenants known (all may).

    Only tenants whose queues this app has provisioned on the PBX (``provisioned``: queue →
    tenant): a placeholder sent into a queue app_queue does not know yet (start-up, a tenant
    loaded a moment ago) leaves Queue() at once and hangs up.
    """
    tenants = registry.tenants()
    if not tenants:
        return None
    ready = set(provisioned.values())
    return [t.slug for t in tenants if t.slug in ready and window_of(t, now).open]


def first_number(registry: TenantRegistry, slug: str) -> str | None:
    tenant = registry.get(slug)
    return tenant.dids[0].number if tenant is not None and tenant.dids else None


def place_of(live: LiveStateService, linkedid: str) -> QueuePlace | None:
    """Where the caller waited: join time, position and the announcement's estimate."""
    call = live.state.calls.get(linkedid)
    if call is None or call.queued_at is None or call.queue is None:
        return None
    position = max(1, call.position or 1)
    return QueuePlace(call.queued_at, position, _estimate(live, call.queue, position))


def offer_candidates(live: LiveStateService, registry: TenantRegistry) -> list[Candidate]:
    """Callers waiting now in queues of tenants with an automatic offer (``offer_after``),
    with the position announcement's estimate for their place."""
    state = live.state
    out: list[Candidate] = []
    for name, queue in state.queues.items():
        for waiting in queue.waiting.values():
            if waiting.uniqueid.startswith("cbq-"):  # a callback's placeholder
                continue
            tenant = registry.get(waiting.tenant or "")
            if tenant is None or not tenant.callbacks.enabled:
                continue
            if tenant.callbacks.offer_after <= 0:
                continue
            call = state.calls.get(waiting.linkedid)
            language = (call.language if call else None) or tenant.default_language
            estimate = _estimate(live, name, max(1, waiting.position))
            out.append(
                Candidate(waiting.uniqueid, language, estimate, tenant.callbacks.offer_after)
            )
    return out


def place_at_end(live: LiveStateService, queue_name: str) -> QueuePlace:
    """A callback asked for in the IVR joins the end of the queue, now."""
    queue = live.state.queues.get(queue_name)
    position = (len(queue.waiting) if queue is not None else 0) + 1
    return QueuePlace(live.clock(), position, _estimate(live, queue_name, position))


def _estimate(live: LiveStateService, queue_name: str, position: int) -> float | None:
    """The position announcement's estimate for ``position`` in the queue now."""
    state = live.state
    queue = state.queues.get(queue_name)
    if queue is None:
        return None
    members = [m for m in state.agents.members.values() if m.queue == queue_name]
    load = queue_loads({queue_name: queue}, members, live.clock())[queue_name]
    return estimated_wait_s(
        Waiting(
            queue_name,
            position,
            float(queue.pbx.get("holdtime", 0)),
            float(queue.pbx.get("talktime", 0)),
            load.agents_available,
        )
    )


FEATURE = Feature("callbacks", models=("callbacks.models",), wire=wire)
