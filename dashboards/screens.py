"""The application's own pages: console, wallboard, worklists, today's report, audit log.

Each is a :class:`dashboards.pages.Page` whose context function reads through the same
repositories and rights checks as the REST API (tenant viewers see their own tenants only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import audit, auth
from callcenter.db.models import Tenant
from callcenter.db.session import DATABASE
from crm.models import Note
from dashboards.pages import ALL_ROLES, N_, STAFF, Page, PageRegistry, Viewer
from dashboards.views import TodayStats
from voicemail.models import Voicemail

SUPERVISORS = (auth.ADMIN, auth.SUPERVISOR)


async def console(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    return {}


async def wallboard(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    return {"kiosk": request.query.get("kiosk") == "1"}


async def password(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    return {}


async def visible_tenants(request: web.Request, viewer: Viewer) -> list[tuple[int, str, str]]:
    async with request.app[DATABASE].session() as session:
        rows = await session.execute(
            select(Tenant.id, Tenant.slug, Tenant.name)
            .where(auth.principal_tenant_filter(viewer.principal))
            .order_by(Tenant.name)
        )
        return [(i, s, n) for i, s, n in rows]


def _chosen(request: web.Request, tenants: list[tuple[int, str, str]]) -> tuple[int, str, str]:
    """The tenant of ``?tenant=slug`` (404 if not visible), else the first visible one."""
    slug = request.query.get("tenant")
    if slug:
        for tenant in tenants:
            if tenant[1] == slug:
                return tenant
        raise auth.json_error(web.HTTPNotFound, "not_found", f"no tenant {slug!r}")
    if not tenants:
        raise auth.json_error(web.HTTPNotFound, "not_found", "no tenant visible to you")
    return tenants[0]


async def worklists(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    """Callbacks, voicemail and telephone notes of one tenant."""
    tenants = await visible_tenants(request, viewer)
    tenant_id, slug, name = _chosen(request, tenants)
    async with request.app[DATABASE].session() as session:
        notes = (
            await session.scalars(
                select(Note)
                .where(Note.tenant_id == tenant_id)
                .order_by(Note.taken_at.desc())
                .limit(50)
            )
        ).all()
        voicemail = (
            await session.scalars(
                select(Voicemail)
                .where(
                    Voicemail.tenant_id == tenant_id,
                    Voicemail.status == "stored",
                    Voicemail.handled_at.is_(None),
                )
                .order_by(Voicemail.created_at.desc())
                .limit(100)
            )
        ).all()
    return {
        "tenants": tenants,
        "tenant": {"id": tenant_id, "slug": slug, "name": name},
        "notes": notes,
        "voicemail": [
            {
                "id": vm.id,
                "caller": vm.caller_e164,
                "caller_name": vm.caller_name,
                "at": vm.created_at,
                "duration": vm.duration_seconds,
                "transcript": vm.transcript_text,
                "transcript_status": vm.transcript_status,
                "audio": f"/api/voicemail/tenants/{tenant_id}/messages/{vm.id}/audio",
                "handled": f"/api/voicemail/tenants/{tenant_id}/messages/{vm.id}/handled",
            }
            for vm in voicemail
        ],
        "voicemail_available": True,
    }


async def report_today(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    """Today per tenant and queue (tenant viewers: their own), with an hourly chart."""
    from dashboards.http import HUB

    tenants = await visible_tenants(request, viewer)
    slugs = {s for _, s, _ in tenants}
    names = {s: n for _, s, n in tenants}
    hub = request.app[HUB]
    state_queues = hub.source.queue_names()
    rows = []
    total = TodayStats()
    for queue in state_queues:
        view = hub.source.queue_view(queue) or {}
        tenant = view.get("tenant")
        if tenant not in slugs:
            continue
        stats = hub.today.per_queue.get(queue, TodayStats())
        total = total.plus(stats)
        rows.append({"tenant": names.get(str(tenant), tenant), "queue": queue, "stats": stats})
    return {"rows": rows, "total": total, "tenants": tenants}


async def audit_log(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    entries = await audit.entries(
        request.app[DATABASE], limit=200, action=request.query.get("action") or None
    )
    return {"entries": entries, "action": request.query.get("action", "")}


def register(registry: PageRegistry) -> None:
    add = registry.add
    add(
        Page(
            "/ui/console",
            N_("Console"),
            STAFF,
            "console.html",
            console,
            10,
            home=(auth.RECEPTIONIST,),
        )
    )
    add(
        Page(
            "/ui/wallboard",
            N_("Wallboard"),
            SUPERVISORS,
            "wallboard.html",
            wallboard,
            20,
            home=SUPERVISORS,
        )
    )
    add(Page("/ui/worklists", N_("Worklists"), ALL_ROLES, "worklists.html", worklists, order=30))
    add(Page("/ui/reports/today", N_("Today"), ALL_ROLES, "report_today.html", report_today, 40))
    add(Page("/ui/audit", N_("Audit log"), (auth.ADMIN,), "audit.html", audit_log, order=90))
    add(Page("/ui/password", N_("Password"), ALL_ROLES, "password.html", password, nav=False))
