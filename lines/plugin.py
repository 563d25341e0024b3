"""The lines feature in the app: trunks and phones.

Start-up: the trunk file is loaded (a fault stops start-up with its location), the
generated files are written. Every AMI (re)connect reloads them in the PBX and polls the
status; a tenant reload updates the numbers outgoing calls present. The status shows in
``/healthz`` (component ``trunks``: required, so a dead carrier makes the service
degraded; component ``phones``: informative), in ``/metrics`` and in the live state
(``lines``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from callcenter.health import Check, ComponentHealth
from callcenter.plugin import Feature
from callcenter.services import Pbx, Services
from ivr.plugin import TENANTS
from ivr.tenancy import Tenant
from lines import http, softphone
from lines.dialplan import presentation_numbers
from lines.service import PHONES_TOPIC, GeneratedFiles, LinesService
from lines.settings import etc_dir, load_trunk_set, media_address
from lines.store import PhoneStore
from lines.trunks import resolve_secret

log = logging.getLogger(__name__)


def make_service(services: Services, pbx: Pbx) -> LinesService:
    config = services.config
    data_dir = config.app.data_dir
    return LinesService(
        pbx.ami,
        GeneratedFiles(etc_dir(config)),
        load_trunk_set(config),
        lambda name: resolve_secret(name, data_dir),
        inbound_context=config.pbx.inbound_context,
        media_address=media_address(config),
        realm=config.lines.realm,
        registrar=f"{config.pbx.host}:{config.pbx.sip_port}",
        sip_host=config.pbx.sip_host or config.pbx.host,
        sip_port=config.pbx.sip_port,
        bus=services.bus,
    )


def wire(services: Services) -> None:
    """Trunks, phones and their status; nothing without a PBX (``services.pbx`` None)."""
    pbx = services.pbx
    if pbx is None:
        return
    registry = services.require(TENANTS)
    service = make_service(services, pbx)
    ami = pbx.ami

    def tenants_changed(tenants: list[Tenant]) -> None:
        service.set_presentation(presentation_numbers(_tenant_numbers(tenants)))
        with contextlib.suppress(RuntimeError):  # no loop: applied at start-up instead
            asyncio.get_running_loop().create_task(service.apply())

    registry.on_replace(tenants_changed)
    ami.add_event_listener(service.on_event)

    async def connected() -> None:
        try:
            await service.reload_all()
            await service.poll()
        except Exception:
            log.exception("lines: applying trunk and phone configuration failed")

    ami.add_connect_listener(connected)
    services.checks.append(_trunk_check(service))
    services.checks.append(_phone_check(service))
    services.metrics.registry.register(_LinesCollector(service))
    pbx.live.sections["lines"] = service.snapshot

    store = PhoneStore(services.db)

    async def run(_app: web.Application) -> AsyncIterator[None]:
        try:
            await service.refresh_phones(store)
        except SQLAlchemyError as exc:  # not migrated yet: trunks still work
            log.error("lines: phones not loaded from the database: %s", exc)
            await service.apply()
        tasks = [
            asyncio.create_task(
                service.watch(services.config.lines.status_poll_seconds), name="lines-status"
            ),
            asyncio.create_task(_follow(service, store, services), name="lines-phones"),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    services.lifecycles.append(run)
    services.http_setups.append(lambda app: http.setup(app, service, store))
    services.http_setups.append(lambda app: softphone.setup(app, services.config))


async def _follow(service: LinesService, store: PhoneStore, services: Services) -> None:
    """Re-render the phones when another app instance changed them."""
    async for _topic, _event in services.bus.subscribe(PHONES_TOPIC):
        try:
            await service.refresh_phones(store)
        except Exception:
            log.exception("lines: phone refresh after a change elsewhere failed")


def _tenant_numbers(tenants: Iterable[Tenant]) -> list[tuple[str, list[str]]]:
    return [(t.slug, [d.number for d in t.dids]) for t in tenants]


def _trunk_check(service: LinesService) -> Check:
    async def trunks() -> ComponentHealth:
        if not service.trunks.trunks:
            return ComponentHealth("trunks", True, "no trunks configured", required=False)
        down = service.status.down("trunk")
        total = len(service.trunks.trunks)
        if down:
            return ComponentHealth("trunks", False, f"down: {', '.join(down)} (of {total})")
        return ComponentHealth("trunks", True, f"{total} up")

    return trunks


def _phone_check(service: LinesService) -> Check:
    async def phones() -> ComponentHealth:
        lines = service.status.snapshot()["phones"]
        assert isinstance(lines, dict)
        down = service.status.down("phone")
        detail = f"{len(lines) - len(down)} of {len(lines)} registered"
        if down:
            detail += f"; not registered: {', '.join(down)}"
        # A phone switched off at night is normal: reported, never "degraded".
        return ComponentHealth("phones", not down, detail, required=False)

    return phones


class _LinesCollector(Collector):
    def __init__(self, service: LinesService) -> None:
        self._service = service

    def collect(self) -> Iterable[GaugeMetricFamily]:
        trunk = GaugeMetricFamily("callcenter_trunk_up", "1 if the trunk is up", labels=["trunk"])
        phone = GaugeMetricFamily(
            "callcenter_phone_registered", "1 if the phone is registered", labels=["phone"]
        )
        for name, line in self._service.status.lines.items():
            (trunk if line.kind == "trunk" else phone).add_metric([name], 1 if line.up else 0)
        yield trunk
        yield phone


FEATURE = Feature("lines", models=("lines.models",), wire=wire)
