"""REST API of the routing configuration: ``/api/ivr/...``.

- ``GET  /api/ivr/tenants``                 tenants the user may see, with status now
- ``GET  /api/ivr/tenants/{slug}``          detail for receptionists: greeting, languages,
  staff directory, open/closed, next opening as text in ``?lang=`` (babel)
- ``GET  /api/ivr/tenants/{slug}/document`` the declarative TOML (admin, supervisor)
- ``PUT  /api/ivr/tenants/{slug}/document`` replace it (admin): validated exactly like a
  file; faults come back as ``422 {"error": "invalid_config", "detail": [{path, reason}]}``;
  on success stored, applied at once and announced to other instances
- ``POST /api/ivr/reload``                  re-read ``config/tenants`` (admin)

Tenant visibility follows the user's tenants; an invisible tenant is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import auth, bodies, tenant_ref
from callcenter.bus import Bus
from callcenter.contract import described
from callcenter.db.models import Tenant as TenantRow
from callcenter.db.session import DATABASE
from ivr import schemas as S
from ivr.announce import describe_opening
from ivr.errors import ConfigFault, ConfigFaults
from ivr.hours import next_opening, status_at
from ivr.loader import LoadedTenant, load_tenant_text
from ivr.models import TenantConfig
from ivr.prompts import PromptSources
from ivr.registry import RELOAD_TOPIC, TenantRegistry, reload_from_files
from ivr.store import save_tenants
from ivr.tenancy import Tenant

REGISTRY: web.AppKey[TenantRegistry] = web.AppKey("ivr_registry", TenantRegistry)
SOURCES: web.AppKey[PromptSources] = web.AppKey("ivr_sources", PromptSources)
DIRECTORY: web.AppKey[Path] = web.AppKey("ivr_directory", Path)
BUS: web.AppKey[Any] = web.AppKey("ivr_bus", object)
CLOCK: web.AppKey[Any] = web.AppKey("ivr_clock", object)
MAX_DOCUMENT = 256 * 1024


def _faults(exc: ConfigFaults) -> web.HTTPException:
    detail = [{"path": f.path, "reason": f.reason} for f in exc.faults]
    return auth.json_error(web.HTTPUnprocessableEntity, "invalid_config", detail)


async def _visible_slugs(request: web.Request, principal: auth.Principal) -> set[str]:
    async with request.app[DATABASE].session() as session:
        rows = await session.execute(
            select(TenantRow.slug).where(auth.principal_tenant_filter(principal))
        )
        return set(rows.scalars())


async def _tenant(request: web.Request, *roles: str) -> Tenant:
    principal = auth.require_role(request, *roles)
    slug = request.match_info["slug"]
    tenant = request.app[REGISTRY].get(slug)
    if tenant is None or slug not in await _visible_slugs(request, principal):
        raise auth.json_error(web.HTTPNotFound, "not_found", f"no tenant {slug!r}")
    return tenant


def _status(tenant: Tenant, now: datetime, language: str) -> dict[str, Any]:
    status = status_at(tenant, now)
    opening = None if status.is_open else next_opening(tenant, now)
    return {
        "status": status.kind,
        "reason": status.reason,
        "next_opening": opening.isoformat() if opening else None,
        "next_opening_text": describe_opening(opening, tenant.zone, language) if opening else None,
    }


@described(
    "Tenants with their opening status now",
    query=S.LangQuery,
    responses={200: S.TenantList},
    tags=("ivr",),
)
async def list_tenants(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    visible = await _visible_slugs(request, principal)
    now = request.app[CLOCK]()
    lang = request.query.get("lang", "de")
    items = [
        {
            "slug": t.slug,
            "name": t.name,
            "languages": list(t.languages),
            "dids": [d.number for d in t.dids],
            **_status(t, now, lang),
        }
        for t in sorted(request.app[REGISTRY].tenants(), key=lambda t: t.slug)
        if t.slug in visible
    ]
    return web.json_response({"tenants": items})


@described(
    "A tenant for receptionists: greeting, staff, queues, status",
    query=S.LangQuery,
    responses={200: S.TenantDetail},
    tags=("ivr",),
)
async def get_tenant(request: web.Request) -> web.Response:
    tenant = await _tenant(request)
    lang = request.query.get("lang", tenant.default_language)
    body = {
        "slug": tenant.slug,
        "name": tenant.name,
        "greeting": tenant.greeting,
        "languages": list(tenant.languages),
        "default_language": tenant.default_language,
        "timezone": tenant.timezone,
        "dids": [d.number for d in tenant.dids],
        "staff": [
            {"id": m.id, "name": m.name, "number": m.number, "note": m.note} for m in tenant.staff
        ],
        "queues": [
            {"name": q.name, "language": q.language, "skill": q.skill}
            for q in tenant.routing.queues
        ],
        **_status(tenant, request.app[CLOCK](), lang),
    }
    return web.json_response(body)


@described(
    "The tenant's declarative file (TOML)", responses={200: "application/toml"}, tags=("ivr",)
)
async def get_document(request: web.Request) -> web.Response:
    tenant = await _tenant(request, "admin", "supervisor")
    async with request.app[DATABASE].session() as session:
        row = (
            await session.execute(
                select(TenantConfig.document)
                .join(TenantRow, TenantRow.id == TenantConfig.tenant_id)
                .where(TenantRow.slug == tenant.slug)
            )
        ).scalar_one_or_none()
    if row is None:
        raise auth.json_error(web.HTTPNotFound, "not_found", "no stored document")
    return web.Response(text=row, content_type="application/toml")


@described(
    "Replace the tenant's file (TOML as text, validated like the files on disk)",
    body_media="text/plain",
    responses={200: S.DocumentSaved},
    tags=("ivr",),
)
async def put_document(request: web.Request) -> web.Response:
    auth.require_role(request, "admin")
    slug = request.match_info["slug"]
    raw = await bodies.read_limited(request, MAX_DOCUMENT)  # 413 above, whole body below
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise auth.json_error(
            web.HTTPBadRequest, "invalid", f"body: a tenant file is UTF-8 (byte {exc.start} is not)"
        ) from None
    registry = request.app[REGISTRY]
    try:
        loaded = load_tenant_text(text, request.app[SOURCES], f"api:{slug}")
        if loaded.tenant.slug != slug:
            raise ConfigFaults(
                [ConfigFault(f"api:{slug}", "slug", f"document is for {loaded.tenant.slug!r}")]
            )
        _check_numbers(loaded, registry)
        async with request.app[DATABASE].session() as session:
            await save_tenants(session, [loaded], deactivate_missing=False)
    except ConfigFaults as exc:
        raise _faults(exc) from None
    others = [LoadedTenant(t, ()) for t in registry.tenants() if t.slug != slug]
    registry.replace([*others, loaded])
    bus: Bus | None = request.app[BUS]
    if bus is not None:
        await bus.publish(RELOAD_TOPIC, {"type": "tenants.reloaded", "tenants": [slug]})
    return web.json_response({"slug": slug, "warnings": [str(w) for w in loaded.warnings]})


def _check_numbers(loaded: LoadedTenant, registry: TenantRegistry) -> None:
    faults = []
    for i, did in enumerate(loaded.tenant.dids):
        owner = registry.by_did(did.number)
        if owner is not None and owner.slug != loaded.tenant.slug:
            faults.append(
                ConfigFault(
                    loaded.tenant.source,
                    f"dids.{i}.number",
                    f"{did.number} already belongs to tenant {owner.slug!r}",
                )
            )
    if faults:
        raise ConfigFaults(faults)


@described("Read the tenant files again", responses={200: S.Reloaded}, no_body=True, tags=("ivr",))
async def reload(request: web.Request) -> web.Response:
    auth.require_role(request, "admin")
    app = request.app
    try:
        report = await reload_from_files(
            app[REGISTRY], app[DATABASE], app[DIRECTORY], app[SOURCES], app[BUS]
        )
    except ConfigFaults as exc:
        raise _faults(exc) from None
    return web.json_response(
        {
            "created": report.created,
            "changed": report.changed,
            "unchanged": report.unchanged,
            "deactivated": report.deactivated,
        }
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def setup(
    app: web.Application,
    registry: TenantRegistry,
    sources: PromptSources,
    directory: Path,
    *,
    bus: Bus | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> None:
    """Add the routes; ``auth.setup`` must have run (it provides the database)."""
    app[REGISTRY] = registry
    app[SOURCES] = sources
    app[DIRECTORY] = directory
    app[BUS] = bus
    app[CLOCK] = clock
    app.router.add_get("/api/ivr/tenants", list_tenants)
    one = "/api/ivr/tenants/" + tenant_ref.SEGMENT  # slug (or its numeric id)
    app.router.add_get(one, get_tenant)
    app.router.add_get(one + "/document", get_document)
    app.router.add_put(one + "/document", tenant_ref.creates_tenant(put_document))
    app.router.add_post("/api/ivr/reload", reload)
