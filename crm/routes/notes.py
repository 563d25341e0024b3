"""Call notes (mailed to the tenant) and the link between a call and its contact."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcenter.contract import described
from callcenter.db.models import Call
from crm import notes, timeline
from crm import repository as repo
from crm import schemas as S
from crm.contact import contact_from_mapping
from crm.models import Note
from crm.routes.common import (
    CRM_MAILER,
    PREFIX,
    STAFF,
    db,
    invalid,
    json_body,
    path_int,
    query_int,
    tenant,
)

routes = web.RouteTableDef()


@routes.post(PREFIX + "/notes")
@described(
    "Take a telephone note (e-mailed to the recipient)",
    body=S.NoteIn,
    responses={201: S.NoteOut},
    tags=("crm",),
)
async def take_note(request: web.Request) -> web.Response:
    tenant_id, principal = tenant(request, *STAFF)
    data = notes.note_from_mapping(await json_body(request))
    async with db(request).session() as s:
        if data.contact_id is not None:
            await repo.get_contact(s, data.contact_id, tenant_id)
        if data.call_id is not None:
            owner = await s.scalar(select(Call.tenant_id).where(Call.id == data.call_id))
            if owner != tenant_id:  # unknown, or another tenant's: the same answer
                raise invalid("call_id", f"no call {data.call_id} of this tenant")
    note = await notes.take_note(
        db(request), tenant_id, data, request.app[CRM_MAILER], taken_by=principal.user_id
    )
    return web.json_response(notes.note_payload(note), status=201)


@routes.get(PREFIX + "/notes")
@described(
    "Telephone notes, newest first", query=S.NoteQuery, responses={200: S.NoteList}, tags=("crm",)
)
async def list_notes(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    limit = query_int(request, "limit", 50, 1, 500)
    stmt = select(Note).where(Note.tenant_id == tenant_id)
    if "contact_id" in request.query:
        stmt = stmt.where(Note.contact_id == query_int(request, "contact_id", 0, 0, 2**62))
    async with db(request).session() as s:
        rows = await s.scalars(stmt.order_by(Note.taken_at.desc()).limit(limit))
        return web.json_response({"items": [notes.note_payload(n) for n in rows]})


@routes.post(PREFIX + "/calls/{call_id:\\d+}/link")
@described(
    "Link a call to a contact (an existing or a new one)",
    body=S.LinkIn,
    responses={200: S.LinkOut},
    tags=("crm",),
)
async def link_call(request: web.Request) -> web.Response:
    """Re-link a call: ``{"contact_id": n}`` or ``{"contact": {...new contact...}}``."""
    tenant_id, principal = tenant(request, *STAFF)
    body = await json_body(request)
    call_id = path_int(request, "call_id")
    async with db(request).session() as s:
        if isinstance(body.get("contact"), dict):
            region = await repo.tenant_region(s, tenant_id)
            data = contact_from_mapping(body["contact"], region)
            contact_id = await timeline.link_call_to_new_contact(
                s, tenant_id, call_id, data, user_id=principal.user_id
            )
        else:
            given = body.get("contact_id")
            if not isinstance(given, int) or isinstance(given, bool):
                raise invalid("contact_id", "an integer (or a 'contact' object) is required")
            contact_id = given
            await timeline.link_call(s, tenant_id, call_id, contact_id, user_id=principal.user_id)
    return web.json_response({"call_id": call_id, "contact_id": contact_id})
