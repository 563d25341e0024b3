"""Organisations (companies the contacts belong to) of a tenant."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter import auth
from callcenter.contract import described
from crm import repository as repo
from crm import schemas as S
from crm.contact import ValidationError, clean_text
from crm.models import Organisation
from crm.routes.common import PREFIX, STAFF, db, json_body, path_int, query_int, tenant

routes = web.RouteTableDef()


def _org_json(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "tenant_id": org.tenant_id,
        "name": org.name,
        "switchboard": org.switchboard_raw,
        "switchboard_e164": org.switchboard_e164,
        "number_prefix": org.number_prefix,
        "website": org.website,
        "notes": org.notes,
    }


def _org_data(body: dict[str, Any]) -> repo.OrganisationData:
    name = clean_text(body.get("name"), "name", 200)
    if not name:
        raise ValidationError("name", "required")
    return repo.OrganisationData(
        name=name,
        switchboard=clean_text(body.get("switchboard"), "switchboard", 64) or None,
        number_prefix=clean_text(body.get("number_prefix"), "number_prefix", 32) or None,
        website=clean_text(body.get("website"), "website", 200) or None,
        notes=clean_text(body.get("notes"), "notes", 10_000, multiline=True),
    )


@routes.get(PREFIX + "/organisations")
@described("Organisations", query=S.PageQuery, responses={200: S.OrganisationList}, tags=("crm",))
async def list_organisations(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    limit = query_int(request, "limit", 100, 1, 500)
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    async with db(request).session() as s:
        orgs = await repo.list_organisations(s, tenant_id, limit, offset)
    return web.json_response({"items": [_org_json(o) for o in orgs]})


@routes.post(PREFIX + "/organisations")
@described(
    "Create an organisation",
    body=S.OrganisationIn,
    responses={201: S.OrganisationOut},
    tags=("crm",),
)
async def create_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, *STAFF)
    data = _org_data(await json_body(request))
    async with db(request).session() as s:
        org = await repo.create_organisation(s, tenant_id, data)
    return web.json_response(_org_json(org), status=201)


async def _org(s: Any, tenant_id: int, org_id: int) -> Organisation:
    org = await s.get(Organisation, org_id)
    if org is None or org.tenant_id not in (tenant_id, None):
        raise repo.NotFound(f"organisation {org_id} not found")
    return org  # type: ignore[no-any-return]


@routes.get(PREFIX + "/organisations/{org_id:\\d+}")
@described("An organisation", responses={200: S.OrganisationOut}, tags=("crm",))
async def get_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    async with db(request).session() as s:
        return web.json_response(_org_json(await _org(s, tenant_id, path_int(request, "org_id"))))


@routes.put(PREFIX + "/organisations/{org_id:\\d+}")
@described(
    "Replace an organisation",
    body=S.OrganisationIn,
    responses={200: S.OrganisationOut},
    tags=("crm",),
)
async def put_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, *STAFF)
    data = _org_data(await json_body(request))
    async with db(request).session() as s:
        org = await _org(s, tenant_id, path_int(request, "org_id"))
        if org.tenant_id != tenant_id:
            raise auth.json_error(web.HTTPForbidden, "forbidden", "shared organisation")
        await repo.update_organisation(s, org, data)
        return web.json_response(_org_json(org))
