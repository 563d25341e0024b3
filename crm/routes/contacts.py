"""Contacts of a tenant or of the secretariat (``/shared``): list, CRUD, merge, timeline,
privacy export and erasure.
"""

from __future__ import annotations

from aiohttp import web

from callcenter.contract import described
from crm import duplicates as dedupe
from crm import privacy, timeline
from crm import repository as repo
from crm import schemas as S
from crm.routes.common import (
    MANAGERS,
    PREFIX,
    SHARED,
    STAFF,
    contact_json,
    db,
    invalid,
    json_body,
    own,
    parse_contact,
    path_int,
    query_int,
    scope,
    tenant,
)

routes = web.RouteTableDef()


@routes.get(PREFIX + "/contacts")
@routes.get(SHARED + "/contacts")
@described(
    "Search the contacts", query=S.ContactQuery, responses={200: S.ContactList}, tags=("crm",)
)
async def list_contacts(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request)
    limit = query_int(request, "limit", 50, 1, 500)
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    async with db(request).session() as s:
        region = await repo.tenant_region(s, tenant_id)
        rows = await repo.search_contacts(
            s,
            tenant_id,
            request.query.get("q", ""),
            tag=request.query.get("tag"),
            limit=limit,
            offset=offset,
            region=region,
        )
        datas = await repo.contacts_data(s, list(rows))
        items = [await contact_json(s, c, d) for c, d in zip(rows, datas, strict=True)]
    return web.json_response({"items": items, "limit": limit, "offset": offset})


@routes.post(PREFIX + "/contacts")
@routes.post(SHARED + "/contacts")
@described("Create a contact", body=S.ContactIn, responses={201: S.ContactCreated}, tags=("crm",))
async def create_contact(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request, *STAFF)
    async with db(request).session() as s:
        data = await parse_contact(request, s, tenant_id)
        duplicates = await dedupe.find_duplicates(s, tenant_id, data)
        contact = await repo.create_contact(s, tenant_id, data)
        body = await contact_json(s, contact)
    body["duplicates"] = duplicates
    return web.json_response(body, status=201)


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.get(SHARED + "/contacts/{contact_id:\\d+}")
@described("A contact", responses={200: S.ContactOut}, tags=("crm",))
async def get_contact(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request)
    async with db(request).session() as s:
        contact = await repo.get_contact(s, path_int(request, "contact_id"), tenant_id)
        return web.json_response(await contact_json(s, contact))


@routes.put(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.put(SHARED + "/contacts/{contact_id:\\d+}")
@described("Replace a contact", body=S.ContactIn, responses={200: S.ContactOut}, tags=("crm",))
async def put_contact(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request, *STAFF)
    async with db(request).session() as s:
        contact = await repo.get_contact(s, path_int(request, "contact_id"), tenant_id)
        own(contact, tenant_id)
        data = await parse_contact(request, s, tenant_id)
        await repo.update_contact(s, contact, data)
        return web.json_response(await contact_json(s, contact))


@routes.delete(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.delete(SHARED + "/contacts/{contact_id:\\d+}")
@described("Delete a contact", responses={200: S.Deleted}, tags=("crm",))
async def delete_contact(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request, *STAFF)
    async with db(request).session() as s:
        contact = await repo.get_contact(s, path_int(request, "contact_id"), tenant_id)
        own(contact, tenant_id)
        await repo.delete_contact(s, contact)
    return web.json_response({"deleted": contact.id})


@routes.post(PREFIX + "/contacts/{contact_id:\\d+}/merge")
@routes.post(SHARED + "/contacts/{contact_id:\\d+}/merge")
@described(
    "Fold another contact into this one",
    body=S.MergeIn,
    responses={200: S.ContactOut},
    tags=("crm",),
)
async def merge_contacts(request: web.Request) -> web.Response:
    """Fold ``{"other_id": n}`` into this contact."""
    tenant_id, _ = scope(request, *STAFF)
    body = await json_body(request)
    other = body.get("other_id")
    if not isinstance(other, int) or isinstance(other, bool):
        raise invalid("other_id", "must be an integer")
    async with db(request).session() as s:
        keep = await repo.get_contact(s, path_int(request, "contact_id"), tenant_id)
        own(keep, tenant_id)
        kept = await dedupe.merge(s, keep.id, other, tenant_id)
        return web.json_response(await contact_json(s, kept))


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}/timeline")
@described(
    "Calls, notes and messages of a contact",
    query=S.LimitQuery,
    responses={200: S.TimelineOut},
    tags=("crm",),
)
async def contact_timeline(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    limit = query_int(request, "limit", 100, 1, 1000)
    async with db(request).session() as s:
        entries = await timeline.timeline(s, tenant_id, path_int(request, "contact_id"), limit)
    return web.json_response({"items": [e.to_dict() for e in entries]})


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}/privacy-export")
@described(
    "Everything stored about a contact (GDPR export)",
    responses={200: S.PrivacyExport},
    tags=("crm",),
)
async def privacy_export(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, *STAFF)
    async with db(request).session() as s:
        dump = await privacy.export_contact(s, tenant_id, path_int(request, "contact_id"))
    return web.json_response(
        dump,
        headers={
            "Content-Disposition": f'attachment; filename="contact-{dump["contact"]["id"]}.json"'
        },
    )


@routes.post(PREFIX + "/contacts/{contact_id:\\d+}/erase")
@routes.post(SHARED + "/contacts/{contact_id:\\d+}/erase")
@described(
    "Erase a contact everywhere, keeping anonymous statistics",
    responses={200: S.ErasureOut},
    no_body=True,
    tags=("crm",),
)
async def privacy_erase(request: web.Request) -> web.Response:
    tenant_id, principal = scope(request, *MANAGERS)
    async with db(request).session() as s:
        contact = await repo.get_contact(s, path_int(request, "contact_id"), tenant_id)
        own(contact, tenant_id)
        counts = await privacy.erase_contact(s, tenant_id, contact.id, erased_by=principal.user_id)
    return web.json_response({"erased": contact.id, "counts": counts})
