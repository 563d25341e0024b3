"""The web application (dashboards) in the running app: pages, live hub, fragments, routes.

Needs the tenant registry (names, greetings, VIP numbers) and, when the app has a PBX, the
live state and the AMI client (supervisors' listen/whisper/barge). Without a PBX the pages
work and show no live calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit
from callcenter.db.models import Agent
from callcenter.plugin import Feature
from callcenter.services import Port, Services
from callcenter.state.live import LiveState
from dashboards import controlling, http, pages, render, screens, supervision
from dashboards.push import Hub, PhoneLookup
from dashboards.source import StateSource
from dashboards.today import TodayLoader
from dashboards.views import TenantInfo, ThresholdLookup, Thresholds, thresholds_of
from ivr.plugin import TENANTS
from ivr.registry import TenantRegistry
from ivr.tenancy import Tenant
from voicemail import audit as vm_audit

STATIC = Path(__file__).resolve().parent / "static"
_IMMUTABLE = "public, max-age=31536000, immutable"

PageRegistry = pages.PageRegistry
# The page registry: features wired after the dashboards add their pages to it.
PAGES: Port[PageRegistry] = Port("dashboards.pages")


def threshold_lookup(registry: TenantRegistry) -> ThresholdLookup:
    """A queue's alert thresholds from its tenant file (``alerts`` of the queue, else the
    tenant's ``routing.alerts``, else the defaults); follows tenant reloads."""
    by_queue: dict[str, Thresholds] = {}

    def rebuild(tenants: list[Tenant]) -> None:
        by_queue.clear()
        for tenant in tenants:
            for rule in tenant.routing.queues:
                by_queue[rule.name] = thresholds_of(tenant.routing.alerts_for(rule.name))

    rebuild(registry.tenants())
    registry.on_replace(rebuild)
    default = Thresholds()
    return lambda queue: by_queue.get(queue, default)


def phone_lookup(live: Any) -> PhoneLookup:
    """Registration of each provisioned phone as agent interface ``PJSIP/<phone>``, from
    the lines feature's section of the live state (empty without lines)."""

    def lookup() -> dict[str, bool]:
        section = live.sections.get("lines") if live is not None else None
        if section is None:
            return {}
        phones = section().get("phones") or {}
        return {f"PJSIP/{name}": bool(line.get("up")) for name, line in phones.items()}

    return lookup


def tenant_lookup(registry: TenantRegistry) -> render.TenantLookup:
    def lookup(slug: str | None) -> TenantInfo | None:
        tenant = registry.get(slug) if slug else None
        if tenant is None:
            return None
        return TenantInfo(tenant.name, tenant.greeting, tenant.routing.vip_numbers)

    return lookup


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Versioned static files (``?v=``) may be cached for good: URLs change with them."""
    if request.path.startswith("/static/") and "v" in request.query:
        response.headers["Cache-Control"] = _IMMUTABLE


def wire(services: Services) -> None:
    """Routes and the live hub; provides the page registry (:data:`PAGES`)."""
    registry = services.require(TENANTS)
    pbx = services.pbx
    live = pbx.live if pbx is not None else None
    empty = LiveState()
    source = StateSource(lambda: live.state if live is not None else empty)
    thresholds = threshold_lookup(registry)
    page_registry = pages.PageRegistry()
    services.provide(PAGES, page_registry)
    screens.register(page_registry)
    controlling.register(page_registry)  # /ui/reports/controlling (figures from stats)

    def service_level(queue: str) -> float:
        return float((source.queue_view(queue) or {}).get("service_level") or 20)

    holder: dict[str, Hub] = {}

    def setup(app: web.Application) -> None:
        envs = render.install_environments(app, page_registry.template_dirs)
        fragments = render.Fragments(envs, tenant_lookup(registry), thresholds)
        hub = Hub(
            source,
            services.bus,
            fragments,
            reasons=services.config.agents.reasons,
            wrapup_seconds=services.config.agents.wrapup_seconds,
            phones=phone_lookup(live),
            today=TodayLoader(services.db, service_level),
        )
        holder["hub"] = hub
        registry.on_replace(lambda _tenants: hub.refresh_all())
        app[pages.REGISTRY] = page_registry
        app[pages.INTERFACE] = _interface_lookup(services)
        http.setup(app, hub, source)
        page_registry.install(app)
        audit.setup(app)
        if pbx is not None:
            supervision.setup(app, pbx.ami, source)
            pbx.ami.add_event_listener(hub.on_ami)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.on_response_prepare.append(_static_headers)

    async def run(_app: web.Application) -> AsyncIterator[None]:
        import asyncio
        import contextlib

        hub = holder["hub"]
        tasks = [
            asyncio.create_task(hub.consume(), name="dashboards-bus"),
            asyncio.create_task(hub.frames_loop(), name="dashboards-frames"),
            asyncio.create_task(hub.today_loop(), name="dashboards-today"),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    services.http_setups.append(setup)
    services.lifecycles.append(run)

    async def voicemail_audit(session: AsyncSession | None, entry: dict[str, Any]) -> None:
        await audit.record_plain(services.db, session, entry)

    # Listening to voicemail, retention deletions and erasure go to the one audit log.
    vm_audit.redirect(voicemail_audit)


def _interface_lookup(services: Services) -> pages.InterfaceLookup:
    async def lookup(user_id: int) -> str | None:
        async with services.db.session() as session:
            interface: str | None = await session.scalar(
                select(Agent.interface).where(Agent.user_id == user_id).limit(1)
            )
            return interface

    return lookup


FEATURE = Feature("dashboards", models=("dashboards.models",), wire=wire)
