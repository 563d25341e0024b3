"""JSON API of the statistics under ``/api/stats/tenants/{tenant_id}/…``.

Admins and supervisors see every tenant; a ``tenant`` user (a client company's viewer)
sees only its own tenants: another tenant's id answers 404 (existence does not leak, as in
the CRM). Receptionists have no controlling figures (403). Bad query values answer 400
``invalid`` naming the ``field`` (:func:`callcenter.api.invalid`).

Routes: ``report`` (totals, queues, receptionists, heatmap, trend, definitions),
``abandoned`` (the list), ``billing`` (``format=json|csv|xlsx``; the XLSX is written in an
executor), ``settings`` (GET; PUT by admin/supervisor, then ``rebuild``); outside a tenant:
``/api/stats/receptionists`` (staff managers: every receptionist over all tenants) and
``/api/stats/definitions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter import api, auth, tenant_ref
from callcenter.contract import described
from callcenter.db.session import DATABASE, Database
from stats import billing, reports, rollups
from stats import schemas as S
from stats.definitions import HELP, Settings
from stats.period import Period, PeriodError, parse_period, zone

PREFIX = "/api/stats/tenants/" + tenant_ref.SEGMENT  # slug (or the old numeric id)
READERS = (auth.ADMIN, auth.SUPERVISOR, "tenant")
MANAGERS = (auth.ADMIN, auth.SUPERVISOR)
routes = web.RouteTableDef()
TAGS = ("stats",)


_invalid = api.invalid


def _db(request: web.Request) -> Database:
    return request.app[DATABASE]


async def _scope(request: web.Request, *roles: str) -> tuple[int, Period]:
    """The tenant of the URL (checked against the principal) and the period asked for."""
    tenant_id = int(request.match_info["tenant_id"])
    auth.require_tenant(request, tenant_id, *(roles or READERS))
    async with _db(request).session() as session:
        tz = await _tenant_zone(session, tenant_id)
    return tenant_id, _period(request, tz)


async def _tenant_zone(session: Any, tenant_id: int) -> ZoneInfo:
    """The tenant's time zone; 404 for a tenant that does not exist."""
    try:
        _, tz = await reports.tenant_zone(session, tenant_id)
    except reports.UnknownTenant:
        raise auth.json_error(web.HTTPNotFound, "not_found", f"no tenant {tenant_id}") from None
    return tz


def _period(request: web.Request, tz: ZoneInfo) -> Period:
    """The period of the query (``period``, ``date``, ``month``, ``from``, ``to``) in ``tz``."""
    q = request.query
    try:
        return parse_period(
            q.get("period"),
            tz,
            day=q.get("date"),
            month=q.get("month"),
            first=q.get("from"),
            last=q.get("to"),
        )
    except PeriodError as exc:
        raise _invalid(exc.field, exc.reason) from None


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "1000")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise _invalid("limit", "must be a whole number in 1..10000")
    return int(raw)


@routes.get(PREFIX + "/report")
@described(
    "A tenant's figures for a period", query=S.PeriodQuery, responses={200: S.ReportOut}, tags=TAGS
)
async def report(request: web.Request) -> web.Response:
    """Figures of a period (``period=day|week|month|custom``, ``date``, ``month``, ``from``,
    ``to``; local dates of the tenant)."""
    tenant_id, period = await _scope(request)
    return web.json_response(await reports.tenant_report(_db(request), tenant_id, period))


@routes.get(PREFIX + "/abandoned")
@described(
    "The abandoned calls of a period",
    query=S.AbandonedQuery,
    responses={200: S.AbandonedOut},
    tags=TAGS,
)
async def abandoned(request: web.Request) -> web.Response:
    """The abandoned calls of a period, oldest first (``limit`` up to 10,000)."""
    tenant_id, period = await _scope(request)
    limit = _limit(request)
    calls = await reports.abandoned_calls(_db(request), tenant_id, period, limit=limit)
    return web.json_response({"period": period.as_dict(), "calls": calls})


@routes.get(PREFIX + "/billing")
@described(
    "The monthly billing (JSON, CSV or XLSX)",
    query=S.BillingQuery,
    responses={200: S.BillingOut},
    tags=TAGS,
)
async def billing_export(request: web.Request) -> web.StreamResponse:
    """The monthly billing (``month=YYYY-MM``, default this month; ``format``)."""
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise _invalid("format", "must be json, csv or xlsx")
    if request.query.get("period", "month") != "month":
        raise _invalid("period", "billing is per month")
    tenant_id, period = await _scope(request)
    if period.kind != "month":
        try:
            period = parse_period("month", period.tz, month=request.query.get("month"))
        except PeriodError as exc:
            raise _invalid(exc.field, exc.reason) from None
    bill = await billing.monthly_billing(_db(request), tenant_id, period)
    name = f"billing-{tenant_id}-{bill.month}"
    if fmt == "json":
        return web.json_response(bill.as_dict())
    if fmt == "csv":
        return web.Response(
            text=billing.to_csv(bill),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    body = await billing.xlsx_bytes_async(bill)
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


def _settings_json(s: Settings) -> dict[str, int]:
    return {
        "service_level_seconds": s.service_level_seconds,
        "short_abandon_seconds": s.short_abandon_seconds,
        "billable_after_seconds": s.billable_after_seconds,
        "wrapup_seconds": s.wrapup_seconds,
    }


@routes.get(PREFIX + "/settings")
@described("A tenant's counting thresholds", responses={200: S.SettingsBody}, tags=TAGS)
async def get_settings(request: web.Request) -> web.Response:
    tenant_id = int(request.match_info["tenant_id"])
    auth.require_tenant(request, tenant_id, *READERS)
    async with _db(request).session() as session:
        await _tenant_zone(session, tenant_id)
        s = await rollups.settings_for(session, tenant_id)
    return web.json_response(_settings_json(s))


@routes.put(PREFIX + "/settings")
@described(
    "Change the thresholds (rebuild to apply them to past figures)",
    body=S.SettingsBody,
    responses={200: S.SettingsBody},
    tags=TAGS,
)
async def put_settings(request: web.Request) -> web.Response:
    """Change the thresholds; past figures follow after ``POST …/rebuild``."""
    tenant_id = int(request.match_info["tenant_id"])
    auth.require_tenant(request, tenant_id, *MANAGERS)
    body = await api.json_body(request)
    async with _db(request).session() as session:
        await _tenant_zone(session, tenant_id)
        current = _settings_json(await rollups.settings_for(session, tenant_id))
    for key in body:
        if key not in current:
            raise _invalid(key, "unknown setting")
    values = {**current, **body}
    try:
        new = Settings(**values)
        new.validate()
    except (TypeError, ValueError) as exc:
        field = next((k for k in body if k in str(exc)), "body")
        raise _invalid(field, str(exc)) from None
    await rollups.save_settings(_db(request), tenant_id, new)
    return web.json_response(_settings_json(new))


@routes.post(PREFIX + "/rebuild")
@described(
    "Recompute a period's rollups from the call rows",
    query=S.PeriodQuery,
    responses={200: S.RebuildOut},
    no_body=True,
    tags=TAGS,
)
async def rebuild(request: web.Request) -> web.Response:
    """Recompute the tenant's rollups of a period (default today) from the call rows."""
    tenant_id, period = await _scope(request, *MANAGERS)
    started = datetime.now(UTC)
    calls = await rollups.rebuild(_db(request), period.start, period.end, [tenant_id])
    took = (datetime.now(UTC) - started).total_seconds()
    return web.json_response({"period": period.as_dict(), "calls": calls, "seconds": took})


@routes.get("/api/stats/receptionists")
@described(
    "Every receptionist over all tenants, with pauses",
    query=S.ReceptionistsQuery,
    responses={200: S.ReceptionistsOut},
    tags=TAGS,
)
async def receptionists(request: web.Request) -> web.Response:
    """Every receptionist's figures over all tenants, with billable and non-billable pauses
    (``billable_pauses=wrapup,notes``; default ``wrapup``). Admin and supervisor only."""
    auth.require_role(request, *MANAGERS)
    q = request.query
    name = q.get("timezone", "Europe/Berlin")
    tz = zone(name)
    if tz.key != name:
        raise _invalid("timezone", "unknown time zone (e.g. Europe/Berlin)")
    period = _period(request, tz)
    raw = q.get("billable_pauses", "wrapup")
    billable = frozenset(r.strip() for r in raw.split(",") if r.strip())
    if any(len(r) > 64 for r in billable):
        raise _invalid("billable_pauses", "reasons are at most 64 characters")
    report = await reports.receptionist_report(_db(request), period, billable)
    return web.json_response(report)


@routes.get("/api/stats/definitions")
@described("What every figure means (the UI help)", responses={200: S.Definitions}, tags=TAGS)
async def definitions(request: web.Request) -> web.Response:
    """What every figure means (the UI help)."""
    auth.require_role(request)
    return web.json_response(HELP)


def setup(app: web.Application) -> None:
    """Add the statistics routes to an app on which ``callcenter.auth.setup`` already ran."""
    app.router.add_routes(routes)
