"""REST API of the CRM under ``/api/crm/tenants/{tenant_id}/…`` (JSON).

Every route checks the tenant through :func:`callcenter.auth.require_tenant` (404 for a
tenant the caller may not see). Staff roles (admin, supervisor, receptionist) read and write;
``tenant`` users (a client company's own staff) only read. Erasure and webhook configuration
need admin or supervisor. Bad input answers 400 ``{"error": "invalid", "field", "reason"}``.

The feature is wired by :mod:`crm.plugin` (routes, webhook worker, screen pop); tests
may call :func:`setup` on an application that already ran ``callcenter.auth.setup``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import auth, bodies
from callcenter.db.models import Call, Tenant
from callcenter.db.session import DATABASE, Database
from crm import csv_import, export, importing, notes, privacy, timeline, webhooks
from crm import repository as repo
from crm.contact import (
    ContactData,
    ValidationError,
    clean_text,
    contact_from_mapping,
    contact_to_mapping,
)
from crm.lookup import Lookup
from crm.mailer import Mailer, MailError
from crm.models import Contact, Note, Organisation, WebhookEndpoint

log = logging.getLogger(__name__)

STAFF = auth.STAFF_ROLES
MANAGERS = (auth.ADMIN, auth.SUPERVISOR)
PREFIX = "/api/crm/tenants/{tenant_id:\\d+}"
SHARED = "/api/crm/shared"
MAX_IMPORT_BYTES = 20 * 1024 * 1024


class _NoMailer:
    """Used until a mail server is configured: notes stay stored and are retried later."""

    async def send(self, message: EmailMessage) -> None:
        raise MailError("no mail server configured")


CRM_MAILER: web.AppKey[Mailer] = web.AppKey("crm_mailer", Mailer)
routes = web.RouteTableDef()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------- helpers


def _invalid(field: str, reason: str) -> web.HTTPException:
    body = json.dumps({"error": "invalid", "field": field, "reason": reason})
    return web.HTTPBadRequest(text=body, content_type="application/json")


def _not_found(what: str) -> web.HTTPException:
    return auth.json_error(web.HTTPNotFound, "not_found", what)


@web.middleware
async def crm_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate domain errors into HTTP answers (only for ``/api/crm``)."""
    if not request.path.startswith("/api/crm/"):
        return await handler(request)
    if "tenant_id" in request.match_info:
        # Writes to a tenant that does not exist broke a foreign key (500) while reads
        # answered empty lists: both are 404 now.
        tenant_id = int(request.match_info["tenant_id"])
        async with _db(request).session() as s:
            if await s.get(Tenant, tenant_id) is None:
                raise _not_found(f"no tenant {tenant_id}")
    try:
        return await handler(request)
    except ValidationError as exc:
        raise _invalid(exc.field, exc.reason) from None
    except repo.NotFound as exc:
        raise _not_found(str(exc)) from None
    except csv_import.MappingError as exc:
        raise _invalid("mapping", str(exc)) from None


def _db(request: web.Request) -> Database:
    return request.app[DATABASE]


def _tenant(request: web.Request, *roles: str) -> tuple[int, auth.Principal]:
    tenant_id = int(request.match_info["tenant_id"])
    return tenant_id, auth.require_tenant(request, tenant_id, *roles)


def _scope(request: web.Request, *roles: str) -> tuple[int | None, auth.Principal]:
    """A tenant (``/tenants/{id}/…``) or the secretariat's shared records (``/shared/…``,
    staff only; ``roles`` narrows it further)."""
    if "tenant_id" in request.match_info:
        return _tenant(request, *roles)
    allowed = tuple(r for r in (roles or STAFF) if r in STAFF)
    return None, auth.require_role(request, *allowed)


def _int(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "must be an integer") from None
    if not lo <= value <= hi:
        raise _invalid(name, f"must be between {lo} and {hi}")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _invalid("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise _invalid("body", "must be a JSON object")
    return data


async def _contact_json(
    session: Any, contact: Contact, data: ContactData | None = None
) -> dict[str, Any]:
    stored = data if data is not None else await repo.contact_data(session, contact)
    return {
        "id": contact.id,
        "tenant_id": contact.tenant_id,
        "organisation_id": contact.organisation_id,
        "shared": contact.tenant_id is None,
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
        **contact_to_mapping(stored),
    }


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


async def _parse_contact(request: web.Request, session: Any, tenant_id: int | None) -> ContactData:
    body = await _body(request)
    return contact_from_mapping(body, await repo.tenant_region(session, tenant_id))


def _own(contact: Contact, tenant_id: int | None) -> None:
    """Writes through a tenant's URL only touch that tenant's contacts, never shared ones."""
    if contact.tenant_id != tenant_id:
        raise auth.json_error(
            web.HTTPForbidden, "forbidden", "shared contacts are changed by the secretariat"
        )


# ---------------------------------------------------------------- lookup


@routes.get(PREFIX + "/lookup")
async def lookup(request: web.Request) -> web.Response:
    """Screen pop: ``?caller=<number as delivered>``."""
    tenant_id, _ = _tenant(request)
    unknown = sorted(set(request.query) - {"caller"})
    if unknown:  # e.g. ?number=…: answering "anonymous" would hide the mistake
        raise auth.json_error(
            web.HTTPBadRequest,
            "bad_request",
            f"unknown query parameter(s) {', '.join(unknown)}; use ?caller=<number>",
        )
    async with _db(request).session() as s:
        region = await repo.tenant_region(s, tenant_id)
    match = await Lookup(_db(request).engine).lookup(tenant_id, request.query.get("caller"), region)
    return web.json_response(match.to_dict())


# ---------------------------------------------------------------- contacts


@routes.get(PREFIX + "/contacts")
@routes.get(SHARED + "/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request)
    limit = _query_int(request, "limit", 50, 1, 500)
    offset = _query_int(request, "offset", 0, 0, 10_000_000)
    async with _db(request).session() as s:
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
        items = [await _contact_json(s, c, d) for c, d in zip(rows, datas, strict=True)]
    return web.json_response({"items": items, "limit": limit, "offset": offset})


@routes.post(PREFIX + "/contacts")
@routes.post(SHARED + "/contacts")
async def create_contact(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request, *STAFF)
    async with _db(request).session() as s:
        data = await _parse_contact(request, s, tenant_id)
        duplicates = await repo.find_duplicates(s, tenant_id, data)
        contact = await repo.create_contact(s, tenant_id, data)
        body = await _contact_json(s, contact)
    body["duplicates"] = duplicates
    return web.json_response(body, status=201)


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.get(SHARED + "/contacts/{contact_id:\\d+}")
async def get_contact(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request)
    async with _db(request).session() as s:
        contact = await repo.get_contact(s, _int(request, "contact_id"), tenant_id)
        return web.json_response(await _contact_json(s, contact))


@routes.put(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.put(SHARED + "/contacts/{contact_id:\\d+}")
async def put_contact(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request, *STAFF)
    async with _db(request).session() as s:
        contact = await repo.get_contact(s, _int(request, "contact_id"), tenant_id)
        _own(contact, tenant_id)
        data = await _parse_contact(request, s, tenant_id)
        await repo.update_contact(s, contact, data)
        return web.json_response(await _contact_json(s, contact))


@routes.delete(PREFIX + "/contacts/{contact_id:\\d+}")
@routes.delete(SHARED + "/contacts/{contact_id:\\d+}")
async def delete_contact(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request, *STAFF)
    async with _db(request).session() as s:
        contact = await repo.get_contact(s, _int(request, "contact_id"), tenant_id)
        _own(contact, tenant_id)
        await repo.delete_contact(s, contact)
    return web.json_response({"deleted": contact.id})


@routes.post(PREFIX + "/contacts/{contact_id:\\d+}/merge")
@routes.post(SHARED + "/contacts/{contact_id:\\d+}/merge")
async def merge_contacts(request: web.Request) -> web.Response:
    """Fold ``{"other_id": n}`` into this contact."""
    tenant_id, _ = _scope(request, *STAFF)
    body = await _body(request)
    other = body.get("other_id")
    if not isinstance(other, int) or isinstance(other, bool):
        raise _invalid("other_id", "must be an integer")
    async with _db(request).session() as s:
        keep = await repo.get_contact(s, _int(request, "contact_id"), tenant_id)
        _own(keep, tenant_id)
        kept = await repo.merge(s, keep.id, other, tenant_id)
        return web.json_response(await _contact_json(s, kept))


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}/timeline")
async def contact_timeline(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    limit = _query_int(request, "limit", 100, 1, 1000)
    async with _db(request).session() as s:
        entries = await timeline.timeline(s, tenant_id, _int(request, "contact_id"), limit)
    return web.json_response({"items": [e.to_dict() for e in entries]})


@routes.get(PREFIX + "/contacts/{contact_id:\\d+}/privacy-export")
async def privacy_export(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    async with _db(request).session() as s:
        dump = await privacy.export_contact(s, tenant_id, _int(request, "contact_id"))
    return web.json_response(
        dump,
        headers={
            "Content-Disposition": f'attachment; filename="contact-{dump["contact"]["id"]}.json"'
        },
    )


@routes.post(PREFIX + "/contacts/{contact_id:\\d+}/erase")
@routes.post(SHARED + "/contacts/{contact_id:\\d+}/erase")
async def privacy_erase(request: web.Request) -> web.Response:
    tenant_id, principal = _scope(request, *MANAGERS)
    async with _db(request).session() as s:
        contact = await repo.get_contact(s, _int(request, "contact_id"), tenant_id)
        _own(contact, tenant_id)
        counts = await privacy.erase_contact(s, tenant_id, contact.id, erased_by=principal.user_id)
    return web.json_response({"erased": contact.id, "counts": counts})


# ---------------------------------------------------------------- organisations


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
async def list_organisations(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    limit = _query_int(request, "limit", 100, 1, 500)
    offset = _query_int(request, "offset", 0, 0, 10_000_000)
    async with _db(request).session() as s:
        orgs = await repo.list_organisations(s, tenant_id, limit, offset)
    return web.json_response({"items": [_org_json(o) for o in orgs]})


@routes.post(PREFIX + "/organisations")
async def create_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    data = _org_data(await _body(request))
    async with _db(request).session() as s:
        org = await repo.create_organisation(s, tenant_id, data)
    return web.json_response(_org_json(org), status=201)


async def _org(s: Any, tenant_id: int, org_id: int) -> Organisation:
    org = await s.get(Organisation, org_id)
    if org is None or org.tenant_id not in (tenant_id, None):
        raise repo.NotFound(f"organisation {org_id} not found")
    return org  # type: ignore[no-any-return]


@routes.get(PREFIX + "/organisations/{org_id:\\d+}")
async def get_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    async with _db(request).session() as s:
        return web.json_response(_org_json(await _org(s, tenant_id, _int(request, "org_id"))))


@routes.put(PREFIX + "/organisations/{org_id:\\d+}")
async def put_organisation(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    data = _org_data(await _body(request))
    async with _db(request).session() as s:
        org = await _org(s, tenant_id, _int(request, "org_id"))
        if org.tenant_id != tenant_id:
            raise auth.json_error(web.HTTPForbidden, "forbidden", "shared organisation")
        await repo.update_organisation(s, org, data)
        return web.json_response(_org_json(org))


# ---------------------------------------------------------------- notes and calls


@routes.post(PREFIX + "/notes")
async def take_note(request: web.Request) -> web.Response:
    tenant_id, principal = _tenant(request, *STAFF)
    data = notes.note_from_mapping(await _body(request))
    async with _db(request).session() as s:
        if data.contact_id is not None:
            await repo.get_contact(s, data.contact_id, tenant_id)
        if data.call_id is not None:
            owner = await s.scalar(select(Call.tenant_id).where(Call.id == data.call_id))
            if owner != tenant_id:  # unknown, or another tenant's: the same answer
                raise _invalid("call_id", f"no call {data.call_id} of this tenant")
    note = await notes.take_note(
        _db(request), tenant_id, data, request.app[CRM_MAILER], taken_by=principal.user_id
    )
    return web.json_response(notes.note_payload(note), status=201)


@routes.get(PREFIX + "/notes")
async def list_notes(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    limit = _query_int(request, "limit", 50, 1, 500)
    stmt = select(Note).where(Note.tenant_id == tenant_id)
    if "contact_id" in request.query:
        stmt = stmt.where(Note.contact_id == _query_int(request, "contact_id", 0, 0, 2**62))
    async with _db(request).session() as s:
        rows = await s.scalars(stmt.order_by(Note.taken_at.desc()).limit(limit))
        return web.json_response({"items": [notes.note_payload(n) for n in rows]})


@routes.post(PREFIX + "/calls/{call_id:\\d+}/link")
async def link_call(request: web.Request) -> web.Response:
    """Re-link a call: ``{"contact_id": n}`` or ``{"contact": {...new contact...}}``."""
    tenant_id, principal = _tenant(request, *STAFF)
    body = await _body(request)
    call_id = _int(request, "call_id")
    async with _db(request).session() as s:
        if isinstance(body.get("contact"), dict):
            region = await repo.tenant_region(s, tenant_id)
            data = contact_from_mapping(body["contact"], region)
            contact_id = await timeline.link_call_to_new_contact(
                s, tenant_id, call_id, data, user_id=principal.user_id
            )
        else:
            given = body.get("contact_id")
            if not isinstance(given, int) or isinstance(given, bool):
                raise _invalid("contact_id", "an integer (or a 'contact' object) is required")
            contact_id = given
            await timeline.link_call(s, tenant_id, call_id, contact_id, user_id=principal.user_id)
    return web.json_response({"call_id": call_id, "contact_id": contact_id})


# ---------------------------------------------------------------- import / export


def _bool_query(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise _invalid(name, "must be true or false")


@routes.post(PREFIX + "/import")
@routes.post(SHARED + "/import")
async def import_contacts(request: web.Request) -> web.Response:
    """Body: the CSV or vCard file. Query: ``format=csv|vcard``, ``dry_run`` (default true),
    ``mapping`` (CSV only, JSON object field → column), ``charset`` (default: UTF-8, else
    Windows-1252; the report says which was used). 413 above :data:`MAX_IMPORT_BYTES`."""
    tenant_id, _ = _scope(request, *STAFF)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "vcard"):
        raise _invalid("format", "must be csv or vcard")
    dry_run = _bool_query(request, "dry_run", True)
    raw_mapping = request.query.get("mapping")
    mapping = csv_import.mapping_from_json(raw_mapping) if raw_mapping is not None else None
    raw = await bodies.read_limited(request, MAX_IMPORT_BYTES)
    try:
        text, encoding = bodies.decode_text(raw, request.query.get("charset"))
    except bodies.CharsetError as exc:
        raise _invalid("charset", str(exc)) from None
    async with _db(request).session() as s:
        region = await repo.tenant_region(s, tenant_id)
        rows, errors = importing.parse_file(text, fmt, mapping, region)
        report = await importing.import_contacts(s, tenant_id, rows, errors, dry_run=dry_run)
        if dry_run:
            await s.rollback()
    return web.json_response({**report.to_dict(), "encoding": encoding})


@routes.get(PREFIX + "/export")
@routes.get(SHARED + "/export")
async def export_contacts(request: web.Request) -> web.Response:
    tenant_id, _ = _scope(request)
    fmt = request.query.get("format", "csv")
    if fmt not in export.FORMATS:
        raise _invalid("format", f"must be one of {', '.join(export.FORMATS)}")
    async with _db(request).session() as s:
        text = await export.export_contacts(s, tenant_id, fmt)
    ctype, ext = ("text/csv", "csv") if fmt == "csv" else ("text/vcard", "vcf")
    return web.Response(
        text=text,
        content_type=ctype,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="contacts-{tenant_id}.{ext}"'},
    )


# ---------------------------------------------------------------- webhooks


@routes.get(PREFIX + "/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *MANAGERS)
    async with _db(request).session() as s:
        rows = await s.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.id)
        )
        return web.json_response({"items": [webhooks.endpoint_view(e) for e in rows]})


@routes.post(PREFIX + "/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    """Register an endpoint; the answer carries the secret, shown this once."""
    tenant_id, _ = _tenant(request, *MANAGERS)
    url, events, description = webhooks.validate_endpoint(await _body(request))
    async with _db(request).session() as s:
        ep = await webhooks.create_endpoint(s, tenant_id, url, events, description=description)
    return web.json_response(webhooks.endpoint_view(ep, with_secret=True), status=201)


@routes.delete(PREFIX + "/webhooks/{endpoint_id:\\d+}")
async def delete_webhook(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *MANAGERS)
    async with _db(request).session() as s:
        ep = await s.get(WebhookEndpoint, _int(request, "endpoint_id"))
        if ep is None or ep.tenant_id != tenant_id:
            raise repo.NotFound("webhook endpoint not found")
        await s.delete(ep)
    return web.json_response({"deleted": ep.id})


@routes.get(PREFIX + "/webhooks/deliveries")
async def webhook_deliveries(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    limit = _query_int(request, "limit", 100, 1, 1000)
    endpoint = (
        _query_int(request, "endpoint_id", 0, 0, 2**62) if "endpoint_id" in request.query else None
    )
    async with _db(request).session() as s:
        log = await webhooks.delivery_log(s, tenant_id, endpoint_id=endpoint, limit=limit)
    return web.json_response({"items": log})


# ---------------------------------------------------------------- wiring


def setup(app: web.Application, *, mailer: Mailer | None = None) -> None:
    """Add the CRM routes to an app on which ``callcenter.auth.setup`` already ran."""
    app[CRM_MAILER] = mailer or _NoMailer()
    app.middlewares.append(crm_errors)
    app.router.add_routes(routes)
