"""The typed dependencies every feature is given: :class:`Services` (and :class:`Pbx`).

The core builds the infrastructure here (database, bus, metrics, health checks and, when
the app has a PBX, the AMI and ARI clients, the live state and the Stasis dispatcher). It
knows no feature: the composition root (``composition/``) hands :class:`Services` to each
feature's plug-in (:class:`callcenter.plugin.Feature`), which registers its routes,
Stasis purposes, bus subscriptions and background tasks on it. Features offer typed
values to later features through :class:`Port` keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.bus import Bus, RedisBus, make_bus
from callcenter.config import Config
from callcenter.health import Check, ComponentHealth
from callcenter.lease import Leadership, LeaseStore
from callcenter.metrics import Metrics
from callcenter.tenants import TenantFacts

if TYPE_CHECKING:
    from callcenter.db.session import Database
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.ari.client import AriClient
    from callcenter.pbx.stasis import StasisDispatcher
    from callcenter.state.records import CallRecord, EventRow
    from callcenter.state.service import CallSink, LiveStateService

T = TypeVar("T")
log = logging.getLogger(__name__)

Lifecycle = Callable[[web.Application], AsyncIterator[None]]
HttpSetup = Callable[[web.Application], None]
# CRM caller lookup for routing: (tenant slug, caller E.164) -> (contact id, VIP)
CallerLookup = Callable[[str, str], Awaitable[tuple[str | None, bool]]]


class Port(Generic[T]):
    """A typed key under which one feature offers a value to features wired after it
    (``services.provide(PORT, value)`` / ``services.require(PORT)``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Port({self.name!r})"


@dataclass(frozen=True)
class Pbx:
    """The connection to Asterisk; absent (``Services.pbx is None``) with ``--no-pbx``."""

    ami: AmiClient
    ari: AriClient
    live: LiveStateService
    stasis: StasisDispatcher  # features register their Stasis purposes here


@dataclass
class Services:
    """Long-lived collaborators shared by every feature."""

    config: Config
    bus: Bus
    metrics: Metrics
    db: Database
    pbx: Pbx | None = None
    # True while this instance owns the ARI application (callcenter.lease); work that must
    # run once per installation (reconciliation, dialling) runs only on the owner.
    leader: Callable[[], bool] = field(default=lambda: True)
    caller_lookup: CallerLookup | None = None
    checks: list[Check] = field(default_factory=list)
    http_setups: list[HttpSetup] = field(default_factory=list)
    lifecycles: list[Lifecycle] = field(default_factory=list)
    # Told the linkedid of every call row stored or completed (live state, queue_log
    # reconciler), e.g. to keep the statistics' rollups current.
    call_stored: list[Callable[[str], None]] = field(default_factory=list)
    _ports: dict[str, object] = field(default_factory=dict, repr=False)
    # Slug -> id, region, languages from memory (callcenter.tenants), current after reloads.
    tenants: TenantFacts = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tenants = TenantFacts(self.db)

    def notify_call_stored(self, linkedid: str) -> None:
        for listener in self.call_stored:
            listener(linkedid)

    def require_pbx(self) -> Pbx:
        """The PBX parts, for code that only runs with a PBX (raises without one)."""
        if self.pbx is None:
            raise RuntimeError("the app runs without a PBX (services.pbx is None)")
        return self.pbx

    def provide(self, port: Port[T], value: T) -> None:
        """Offer ``value`` to the features wired after this one."""
        if port.name in self._ports:
            raise ValueError(f"port {port.name!r} is already provided")
        self._ports[port.name] = value

    def get(self, port: Port[T]) -> T | None:
        """The value a feature wired earlier provided, or ``None``."""
        return cast("T | None", self._ports.get(port.name))

    def require(self, port: Port[T]) -> T:
        """Like :meth:`get`, but a missing provider is a wiring error (wrong feature order)."""
        if port.name not in self._ports:
            raise LookupError(f"no feature provides {port.name!r}: check the feature order")
        return cast("T", self._ports[port.name])


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


class ObservedCalls:
    """A call sink that tells ``stored(linkedid)`` after each finished call is stored."""

    def __init__(self, inner: CallSink, stored: Callable[[str], None]) -> None:
        self._inner = inner
        self._stored = stored

    async def append_events(self, events: Sequence[EventRow]) -> None:
        await self._inner.append_events(events)

    async def record_finished(self, record: CallRecord) -> None:
        await self._inner.record_finished(record)
        self._stored(record.linkedid)


def build_services(config: Config) -> Services:
    """Create the infrastructure objects (nothing connects until the app starts)."""
    from callcenter.db.session import Database

    config = config.with_secrets()
    db = Database(
        config.database_url,
        pool_size=config.database.pool_size,
        echo=config.database.echo,
        sessions_at_once=config.database.sessions_at_once,
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
    services.lifecycles.append(_tenant_facts(services.tenants, services.bus))
    return services


def _tenant_facts(facts: TenantFacts, bus: Bus) -> Lifecycle:
    async def run(_app: web.Application) -> AsyncIterator[None]:
        try:
            await facts.load()
        except SQLAlchemyError as exc:  # not migrated yet: rows are read on demand
            log.error("tenant facts not loaded: %s", exc)
        follower = asyncio.create_task(facts.follow(bus), name="tenant-facts")
        yield
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower

    return run


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


def attach_pbx(services: Services) -> Pbx:
    """AMI and ARI clients, live state and its runner; started and stopped with the app."""
    from callcenter.db.calls import CallRepository
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.ari.client import AriClient
    from callcenter.pbx.stasis import StasisDispatcher
    from callcenter.state.live import LiveState
    from callcenter.state.service import LiveStateService

    config = services.config
    ami = AmiClient.from_config(config.pbx)
    live = LiveStateService(
        ami,
        LiveState(region=config.tenants.default_region),
        services.bus,
        ObservedCalls(CallRepository(services.db), services.notify_call_stored),
    )
    ari = AriClient.from_config(config.pbx)
    pbx = Pbx(ami=ami, ari=ari, live=live, stasis=StasisDispatcher(ari))
    services.pbx = pbx
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
    dispatcher = pbx.stasis
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
    return pbx


# Each check function is named after its component: run_checks reports a check that
# hangs or raises under that name.


def _ami_check(client: AmiClient, config: Config) -> Check:
    async def ami() -> ComponentHealth:
        status = client.status
        where = f"{config.pbx.host}:{config.pbx.ami_port}"
        if status.connected:
            return ComponentHealth("ami", True, f"connected to {where} (AMI {status.version})")
        return ComponentHealth("ami", False, f"not connected to {where}: {status.last_error}")

    return ami


def _ari_check(client: AriClient, config: Config, leadership: Leadership) -> Check:
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
