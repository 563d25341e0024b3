"""Contact import (CSV, vCard; dry run first) and export."""

from __future__ import annotations

from aiohttp import web

from callcenter import api, bodies
from callcenter.contract import described
from crm import csv_import, export, importing
from crm import repository as repo
from crm import schemas as S
from crm.routes.common import PREFIX, SHARED, STAFF, db, invalid, scope

MAX_IMPORT_BYTES = 20 * 1024 * 1024

routes = web.RouteTableDef()


_bool_query = api.query_bool


@routes.post(PREFIX + "/import")
@routes.post(SHARED + "/import")
@described(
    "Import contacts (CSV or vCard; a dry run unless dry_run=false)",
    body_media="text/csv",
    query=S.ImportQuery,
    responses={200: S.ImportReport},
    tags=("crm",),
)
async def import_contacts(request: web.Request) -> web.Response:
    """Body: the CSV or vCard file. Query: ``format=csv|vcard``, ``dry_run`` (default true),
    ``mapping`` (CSV only, JSON object field → column), ``charset`` (default: UTF-8, else
    Windows-1252; the report says which was used). 413 above :data:`MAX_IMPORT_BYTES`."""
    tenant_id, _ = scope(request, *STAFF)
    fmt = request.query.get("format", "csv")
    if fmt not in ("csv", "vcard"):
        raise invalid("format", "must be csv or vcard")
    dry_run = _bool_query(request, "dry_run", True)
    raw_mapping = request.query.get("mapping")
    mapping = csv_import.mapping_from_json(raw_mapping) if raw_mapping is not None else None
    raw = await bodies.read_limited(request, MAX_IMPORT_BYTES)
    try:
        text, encoding = bodies.decode_text(raw, request.query.get("charset"))
    except bodies.CharsetError as exc:
        raise invalid("charset", str(exc)) from None
    async with db(request).session() as s:
        region = await repo.tenant_region(s, tenant_id)
        rows, errors = importing.parse_file(text, fmt, mapping, region)
        report = await importing.import_contacts(s, tenant_id, rows, errors, dry_run=dry_run)
        if dry_run:
            await s.rollback()
    return web.json_response({**report.to_dict(), "encoding": encoding})


@routes.get(PREFIX + "/export")
@routes.get(SHARED + "/export")
@described(
    "Export the contacts (CSV or vCard)",
    query=S.ExportQuery,
    responses={200: "text/csv"},
    tags=("crm",),
)
async def export_contacts(request: web.Request) -> web.Response:
    tenant_id, _ = scope(request)
    fmt = request.query.get("format", "csv")
    if fmt not in export.FORMATS:
        raise invalid("format", f"must be one of {', '.join(export.FORMATS)}")
    async with db(request).session() as s:
        text = await export.export_contacts(s, tenant_id, fmt)
    ctype, ext = ("text/csv", "csv") if fmt == "csv" else ("text/vcard", "vcf")
    return web.Response(
        text=text,
        content_type=ctype,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="contacts-{tenant_id}.{ext}"'},
    )
