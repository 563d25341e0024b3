"""REST API of the CRM under ``/api/crm/tenants/{tenant_id}/…`` (JSON).

Every route checks the tenant through :func:`callcenter.auth.require_tenant` (404 for a
tenant the caller may not see). Staff roles (admin, supervisor, receptionist) read and write;
``tenant`` users (a client company's own staff) only read. Erasure and webhook configuration
need admin or supervisor. Bad input answers 400 ``invalid`` naming the ``field``
(:func:`callcenter.api.invalid`).

The routes live in :mod:`crm.routes` (contacts, organisations, notes, import/export,
webhooks); this module holds the screen-pop lookup, the error translation and :func:`setup`.
The feature is wired by :mod:`crm.plugin` (routes, webhook worker, screen pop); tests
may call :func:`setup` on an application that already ran ``callcenter.auth.setup``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from callcenter import auth
from callcenter.contract import described
from callcenter.db.models import Tenant
from crm import csv_import
from crm import repository as repo
from crm import schemas as S
from crm.contact import ValidationError
from crm.lookup import Lookup
from crm.mailer import Mailer
from crm.routes import contacts, notes, organisations, transfer, webhooks
from crm.routes.common import CRM_MAILER, PREFIX, NoMailer, db, invalid, not_found, tenant
from crm.routes.transfer import MAX_IMPORT_BYTES

__all__ = ["CRM_MAILER", "MAX_IMPORT_BYTES", "crm_errors", "routes", "setup"]

routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def crm_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate domain errors into HTTP answers (only for ``/api/crm``)."""
    if not request.path.startswith("/api/crm/"):
        return await handler(request)
    if "tenant_id" in request.match_info:
        # Writes to a tenant that does not exist broke a foreign key (500) while reads
        # answered empty lists: both are 404 now.
        tenant_id = int(request.match_info["tenant_id"])
        async with db(request).session() as s:
            if await s.get(Tenant, tenant_id) is None:
                raise not_found(f"no tenant {tenant_id}")
    try:
        return await handler(request)
    except ValidationError as exc:
        raise invalid(exc.field, exc.reason) from None
    except repo.NotFound as exc:
        raise not_found(str(exc)) from None
    except csv_import.MappingError as exc:
        raise invalid("mapping", str(exc)) from None


@routes.get(PREFIX + "/lookup")
@described(
    "Screen pop: who is calling", query=S.LookupQuery, responses={200: S.LookupOut}, tags=("crm",)
)
async def lookup(request: web.Request) -> web.Response:
    """Screen pop: ``?caller=<number as delivered>``."""
    tenant_id, _ = tenant(request)
    unknown = sorted(set(request.query) - {"caller"})
    if unknown:  # e.g. ?number=…: answering "anonymous" would hide the mistake
        raise auth.json_error(
            web.HTTPBadRequest,
            "bad_request",
            f"unknown query parameter(s) {', '.join(unknown)}; use ?caller=<number>",
        )
    async with db(request).session() as s:
        region = await repo.tenant_region(s, tenant_id)
    match = await Lookup(db(request).engine).lookup(tenant_id, request.query.get("caller"), region)
    return web.json_response(match.to_dict())


def setup(app: web.Application, *, mailer: Mailer | None = None) -> None:
    """Add the CRM routes to an app on which ``callcenter.auth.setup`` already ran."""
    app[CRM_MAILER] = mailer or NoMailer()
    app.middlewares.append(crm_errors)
    app.router.add_routes(routes)
    for module in (contacts, organisations, notes, transfer, webhooks):
        app.router.add_routes(module.routes)
