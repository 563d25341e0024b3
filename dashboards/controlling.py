"""The controlling page of the web application (``/ui/reports/controlling``).

Registered with the dashboards' page registry (dashboards/README.md, "Adding a page"); the
figures come from the statistics feature (:mod:`stats.reports`). The
page shows the same report the JSON API returns (stats.reports) for one visible tenant and
period: the figures with their definitions, the hour × weekday heatmap, the trend, the
queues and receptionists, the abandoned calls and the billing downloads. Tenant viewers
see only their own tenants (the tenant choice is filtered, another tenant's id is a 404
page), exactly as the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import auth
from callcenter.db.models import Tenant
from callcenter.db.session import DATABASE
from dashboards.pages import N_, Page, PageRegistry, Viewer
from stats import reports
from stats.period import PeriodError, parse_period, zone

ROLES = (auth.ADMIN, auth.SUPERVISOR, auth.TENANT)
PATH = "/ui/reports/controlling"


async def controlling(request: web.Request, viewer: Viewer) -> Mapping[str, Any]:
    db = request.app[DATABASE]
    async with db.session() as session:
        rows = await session.execute(
            select(Tenant.id, Tenant.name, Tenant.timezone)
            .where(auth.principal_tenant_filter(viewer.principal))
            .order_by(Tenant.name)
        )
        tenants = [(i, n, tz) for i, n, tz in rows]
    q = request.query
    if not tenants:
        return {"tenants": [], "report": None, "error": None, "query": dict(q)}
    chosen = tenants[0]
    if q.get("tenant"):
        match = [t for t in tenants if str(t[0]) == q["tenant"]]
        if not match:
            raise web.HTTPNotFound(text="no such tenant")
        chosen = match[0]
    try:
        period = parse_period(
            q.get("period") or "month",
            zone(chosen[2]),
            day=q.get("date") or None,
            month=q.get("month") or None,
            first=q.get("from") or None,
            last=q.get("to") or None,
        )
    except PeriodError as exc:
        return {"tenants": tenants, "report": None, "error": exc, "query": dict(q)}
    report = await reports.tenant_report(db, chosen[0], period)
    abandoned = await reports.abandoned_calls(db, chosen[0], period, limit=200)
    heat = report["heatmap"]["offered"]
    peak = max((max(row) for row in heat), default=0) or 1
    return {
        "tenants": tenants,
        "tenant_id": chosen[0],
        "report": report,
        "abandoned": abandoned,
        "heat_peak": peak,
        "trend_peak": max((p["offered"] for p in report["trend"]), default=0) or 1,
        "error": None,
        "query": dict(q),
        "month": period.first.strftime("%Y-%m"),
    }


def register(registry: PageRegistry) -> None:
    """Add the controlling page (admins, supervisors, tenant viewers)."""
    registry.add(
        Page(PATH, N_("Controlling"), ROLES, "stats_controlling.html", controlling, order=45)
    )
