"""Dependency wiring in one place: the one module that knows every concrete class.

Feature packages (``ivr``, ``crm``, ``dashboards``) get :class:`Services` and add their
HTTP routes (``http_setups``) and long-lived tasks (``lifecycles``, aiohttp cleanup
contexts); they never construct infrastructure themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.bus import Bus, RedisBus, make_bus
from callcenter.config import Config
from callcenter.health import Check, ComponentHealth
from callcenter.lease import Leadership, LeaseStore
from callcenter.metrics import Metrics
from jobs.worker import Periodic, Task

if TYPE_CHECKING:
    from callcenter.db.session import Database

Lifecycle = Callable[[web.Application], AsyncIterator[None]]


@dataclass
class Services:
    """Long-lived collaborators shared by every feature."""

    config: Config
    bus: Bus
    metrics: Metrics
    db: Database
    ami: Any = None
    ari: Any = None
    live: Any = None
    stasis: Any = None  # StasisDispatcher: features register their Stasis purposes
    # True while this instance owns the ARI application (callcenter.lease); work that must
    # run once per installation (reconciliation, dialling) runs only on the owner.
    leader: Callable[[], bool] = field(default=lambda: True)
    # CRM caller lookup for routing: (tenant slug, caller E.164) -> (contact id, VIP)
    caller_lookup: Callable[[str, str], Awaitable[tuple[str | None, bool]]] | None = None
    checks: list[Check] = field(default_factory=list)
    http_setups: list[Callable[[web.Application], None]] = field(default_factory=list)
    lifecycles: list[Lifecycle] = field(default_factory=list)
    # Background jobs of every feature (jobs/): run by the in-app worker and `callcenter worker`
    tasks: list[Task] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def build_services(config: Config) -> Services:
    """Create the infrastructure objects (nothing connects until the app starts)."""
    from callcenter.db.session import Database

    config = config.with_secrets()
    db = Database(
        config.database_url, pool_size=config.database.pool_size, echo=config.database.echo
    )
    services = Services(config=config, bus=make_bus(config.redis.url), metrics=Metrics(), db=db)
    services.checks.append(_database_check(db))
    services.checks.append(_redis_check(services.bus, config.redis.url))
    if isinstance(services.bus, RedisBus):
        outage = services.bus.outage
        services.metrics.add_counter_source(
            "callcenter_redis_failures", "Redis operations that failed", lambda: outage.failures
        )
        services.metrics.add_counter_source(
            "callcenter_redis_outages", "Redis outages begun", lambda: outage.outages
        )
    services.lifecycles.append(_close_on_exit(services))
    return services


def _database_check(db: Database) -> Check:
    async def database() -> ComponentHealth:
        up, detail = await db.ping()
        return ComponentHealth("database", up, detail)

    return database


def _redis_check(bus: Bus, url: str) -> Check:
    async def redis() -> ComponentHealth:
        if not isinstance(bus, RedisBus):
            return ComponentHealth("redis", True, "not configured: in-process bus", required=False)
        up = await bus.ping()
        return ComponentHealth("redis", up, "ok" if up else f"no PONG from {url}")

    return redis


def _close_on_exit(services: Services) -> Lifecycle:
    async def close(_app: web.Application) -> AsyncIterator[None]:
        yield
        await services.bus.close()
        await services.db.close()

    return close


def wire_pbx(services: Services) -> None:
    """AMI client, live state and its runner; started and stopped with the app."""
    from callcenter.db.calls import CallRepository
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.ari.client import AriClient
    from callcenter.pbx.stasis import StasisDispatcher
    from callcenter.state.live import LiveState
    from callcenter.state.service import LiveStateService
    from stats.wiring import call_sink, rollups

    config = services.config
    stats_rollups = rollups(services)  # one updater for both writers of call rows
    ami = AmiClient.from_config(config.pbx)
    live = LiveStateService(
        ami,
        LiveState(region=config.tenants.default_region),
        services.bus,
        call_sink(CallRepository(services.db), stats_rollups),  # + rollups (ADR 0009)
    )
    ari = AriClient.from_config(config.pbx)
    services.ami, services.ari, services.live = ami, ari, live
    metrics = services.metrics
    metrics.add_snapshot_source(live.snapshot)
    metrics.add_latency_source("ari", ari.latency.summary)
    metrics.add_counter_source(
        "callcenter_ami_events", "AMI events received", lambda: ami.events_received
    )
    metrics.add_counter_source(
        "callcenter_ami_reconnects", "AMI connections re-established", lambda: ami.status.reconnects
    )
    metrics.add_counter_source(
        "callcenter_ari_events", "ARI events received", lambda: ari.events_received
    )
    dispatcher = services.stasis = StasisDispatcher(ari)
    ari.add_handler(dispatcher)
    recovery: dict[str, asyncio.Task[int] | bool] = {"pending": True}

    async def recover_orphans() -> None:
        # Only on the first connect after taking the app (start-up or a lease take-over):
        # after a mere websocket blip the channels in Stasis are still ours (their handlers
        # run); after a restart or take-over they are not. In a task of its own: the events
        # loop must go on delivering StasisStart meanwhile.
        if recovery.pop("pending", False):
            recovery["task"] = asyncio.create_task(dispatcher.recover(ari))

    ari.on_connect(recover_orphans)

    async def gained() -> None:
        recovery["pending"] = True
        await ari.start()

    leadership = Leadership(
        LeaseStore(services.db),
        f"ari:{config.pbx.host}:{config.pbx.http_port}:{config.pbx.ari_app}",
        ttl=config.pbx.lease_ttl,
        on_gain=gained,
        on_loss=ari.close,
        on_renew=ari.start,  # no-op while running; back after an ApplicationReplaced
    )
    services.leader = lambda: leadership.is_leader
    metrics.add_counter_source(
        "callcenter_ari_ownership_gained",
        "times this instance took the ARI application (lease)",
        lambda: leadership.changes,
    )
    services.checks.append(_ami_check(ami, config))
    services.checks.append(_ari_check(ari, config, leadership))
    from callcenter.records.wiring import wire_records

    records = wire_records(services)  # queue_log → call rows (docs/decisions/0004)
    records.on_call_stored = stats_rollups.call_stored

    async def run(_app: web.Application) -> AsyncIterator[None]:
        await live.start()
        await ami.start()
        await leadership.start()  # owner: starts the ARI client; standby: waits
        yield
        await leadership.close()
        await ari.close()
        await ami.close()
        await live.close()

    services.lifecycles.append(run)


# Each check function is named after its component: run_checks reports a check that
# hangs or raises under that name.


def _ami_check(client: Any, config: Config) -> Check:
    async def ami() -> ComponentHealth:
        status = client.status
        where = f"{config.pbx.host}:{config.pbx.ami_port}"
        if status.connected:
            return ComponentHealth("ami", True, f"connected to {where} (AMI {status.version})")
        return ComponentHealth("ami", False, f"not connected to {where}: {status.last_error}")

    return ami


def _ari_check(client: Any, config: Config, leadership: Leadership) -> Check:
    async def ari() -> ComponentHealth:
        where = f"http://{config.pbx.host}:{config.pbx.http_port}/ari"
        if not leadership.is_leader:
            return ComponentHealth(
                "ari", True, f"standby: another instance owns app {config.pbx.ari_app!r}"
            )
        if not client.connected:
            return ComponentHealth(
                "ari", False, f"events websocket down ({where}): {client.last_error}"
            )
        info = await client.asterisk_info()
        return ComponentHealth(
            "ari", True, f"app {config.pbx.ari_app!r} registered at {where}; {info.version}"
        )

    return ari


def wire_features(services: Services) -> None:
    """HTTP routes and workers of the feature packages (CRM, IVR, dashboards)."""
    from callcenter.agents.wiring import wire_agents
    from crm.http import wire as wire_crm
    from dashboards.wiring import wire_dashboards
    from ivr.wiring import wire_ivr
    from jobs.wiring import wire_jobs
    from lines.wiring import wire_lines
    from voicemail.wiring import wire_voicemail

    registry = wire_ivr(services)
    from callcenter.callbacks.wiring import wire_callbacks

    wire_callbacks(services, registry)  # the callback key, the dialler, /api/callbacks
    wire_agents(services, registry)  # queues from the tenants, receptionists, call control
    wire_crm(services)
    wire_lines(services, registry)  # trunks, phones, their status
    from stats.wiring import wire_stats

    wire_stats(services)
    wire_voicemail(services)
    pages = wire_dashboards(services, registry)
    from stats.pages import register as stats_pages

    stats_pages(pages)  # /ui/reports/controlling
    wire_jobs(services)  # last: the in-app worker runs the tasks the features registered
