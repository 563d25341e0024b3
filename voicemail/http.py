"""The voicemail inbox for receptionists, under ``/api/voicemail/tenants/{tenant_id}/…``.

| route | what |
| --- | --- |
| ``GET  …/messages`` | newest first; ``?status=open|handled|all``, ``assigned_to``, ``limit`` |
| ``GET  …/messages/{id}`` | one message with transcript words |
| ``GET  …/messages/{id}/audio`` | the WAV, streamed; HTTP ``Range`` (206/416); audited |
| ``POST …/messages/{id}/handled`` | ``{"handled": true|false}`` |
| ``POST …/messages/{id}/assign`` | ``{"user_id": 3}`` or ``{"user_id": null}`` |
| ``POST …/messages/{id}/callback`` | creates a callback request for the caller (``{"queue"}``) |
| ``POST …/messages/{id}/contact`` | ``{"contact_id": 12}``: link to a CRM contact |
| ``POST …/messages/{id}/retry`` | transcribe again (after "not transcribed") |
| ``GET/PUT …/mailboxes/{box}`` | recipients, greetings, limits, review, retention (``*``) |

Staff roles read and act; ``tenant`` users only read their own tenant's messages. Bad input
answers 400 ``invalid`` naming the ``field`` (:func:`callcenter.api.invalid`); a message of
another tenant is 404.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from callbacks.models import CallbackRequest
from callbacks.store import CallbackRepository, NewCallback, callback_number
from callcenter import auth
from callcenter.contract import described
from callcenter.db.models import Queue, Tenant, User, utcnow
from callcenter.phone.policy import DestinationPolicy, DestinationRefused
from jobs.models import Job
from voicemail import audit
from voicemail import schemas as sc
from voicemail.deps import VoicemailDeps
from voicemail.models import Voicemail, VoicemailAudio
from voicemail.routes import mailboxes
from voicemail.routes.common import DEPS, PREFIX, STAFF, TAGS
from voicemail.routes.common import body as _body
from voicemail.routes.common import deps as _deps
from voicemail.routes.common import invalid as _invalid
from voicemail.routes.common import not_found as _not_found
from voicemail.routes.common import tenant as _tenant
from voicemail.tasks import payload, transcribe_task

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
routes = web.RouteTableDef()


def _optional_id(data: Mapping[str, Any], key: str, hi: int = 2**63 - 1) -> int | None:
    value = data.get(key)
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= hi
    ):
        raise _invalid(key, f"must be an integer 1..{hi} or null")
    return value


async def _message(request: web.Request, tenant_id: int) -> Voicemail:
    raw = request.match_info["voicemail_id"]
    async with _deps(request).db.session() as s:
        vm = await s.scalar(
            select(Voicemail).where(Voicemail.id == int(raw), Voicemail.tenant_id == tenant_id)
        )
    if vm is None:
        raise _not_found(f"voicemail {raw} not found")
    return vm


def _query_int(request: web.Request, name: str, default: int | None, hi: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= hi:
        raise _invalid(name, f"must be an integer 1..{hi}")
    return int(raw)


@routes.get(PREFIX + "/messages")
@described(
    "List voicemail messages", query=sc.ListQuery, responses={200: sc.MessageListOut}, tags=TAGS
)
async def list_messages(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    status = request.query.get("status", "open")
    if status not in ("open", "handled", "all"):
        raise _invalid("status", "must be open, handled or all")
    limit = _query_int(request, "limit", 100, 1000) or 100
    assigned = _query_int(request, "assigned_to", None, sc.INT32_MAX)
    stmt = select(Voicemail).where(
        Voicemail.tenant_id == tenant_id, Voicemail.status.in_(["stored", "recording"])
    )
    if status == "open":
        stmt = stmt.where(Voicemail.handled_at.is_(None))
    elif status == "handled":
        stmt = stmt.where(Voicemail.handled_at.is_not(None))
    if assigned is not None:
        stmt = stmt.where(Voicemail.assigned_to == assigned)
    async with _deps(request).db.session() as s:
        rows = await s.scalars(stmt.order_by(Voicemail.created_at.desc()).limit(limit))
        items = [payload(vm) for vm in rows]
    return web.json_response({"messages": items})


@routes.get(PREFIX + "/messages/{voicemail_id:\\d+}")
@described("One message with transcript words", responses={200: sc.MessageDetailOut}, tags=TAGS)
async def get_message(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request)
    vm = await _message(request, tenant_id)
    return web.json_response({**payload(vm), "words": vm.transcript_words or []})


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range; None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n > 0 else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


@routes.get(PREFIX + "/messages/{voicemail_id:\\d+}/audio")
@described(
    "The audio (WAV), HTTP Range supported; audited",
    responses={200: "audio/wav", 206: "audio/wav"},
    tags=TAGS,
)
async def audio(request: web.Request) -> web.StreamResponse:
    tenant_id, principal = _tenant(request)
    vm = await _message(request, tenant_id)
    async with _deps(request).db.session() as s:
        stored = await s.get(VoicemailAudio, vm.id)
        if stored is None:
            raise _not_found(f"voicemail {vm.id} has no audio (empty, expired or erased)")
        data, content_type = stored.data, stored.content_type
        await audit.record(
            s, "voicemail.listen", tenant_id=tenant_id, user_id=principal.user_id,
            target=f"voicemail:{vm.id}",
            detail={"range": request.headers["Range"]} if "Range" in request.headers else {},
        )  # fmt: skip
    size = len(data)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    header = request.headers.get("Range")
    status, body = 200, data
    if header:
        span = parse_range(header, size)
        if span is None:
            raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        first, last = span
        status, body = 206, data[first : last + 1]
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = content_type
    response.content_length = len(body)
    await response.prepare(request)
    for offset in range(0, len(body), 64 * 1024):
        await response.write(body[offset : offset + 64 * 1024])
    await response.write_eof()
    return response


@routes.post(PREFIX + "/messages/{voicemail_id:\\d+}/handled")
@described(
    "Mark handled or open again", body=sc.HandledIn, responses={200: sc.MessageOut}, tags=TAGS
)
async def mark_handled(request: web.Request) -> web.Response:
    tenant_id, principal = _tenant(request, *STAFF)
    vm = await _message(request, tenant_id)
    data = await _body(request)
    handled = data.get("handled", True)
    if not isinstance(handled, bool):
        raise _invalid("handled", "must be true or false")
    async with _deps(request).db.session() as s:
        row = await s.get(Voicemail, vm.id)
        assert row is not None
        row.handled_at = utcnow() if handled else None
        row.handled_by = principal.user_id if handled else None
        view = payload(row)
    return web.json_response(view)


@routes.post(PREFIX + "/messages/{voicemail_id:\\d+}/assign")
@described("Assign to a receptionist", body=sc.AssignIn, responses={200: sc.MessageOut}, tags=TAGS)
async def assign(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    vm = await _message(request, tenant_id)
    user_id = _optional_id(await _body(request), "user_id", sc.INT32_MAX)
    async with _deps(request).db.session() as s:
        if user_id is not None:
            user = await s.get(User, user_id)
            if user is None or user.role not in STAFF or not user.active:
                raise _invalid("user_id", f"user {user_id} is not an active receptionist")
        row = await s.get(Voicemail, vm.id)
        assert row is not None
        row.assigned_to = user_id
        view = payload(row)
    return web.json_response(view)


@routes.post(PREFIX + "/messages/{voicemail_id:\\d+}/callback")
@described(
    "Create a callback request for the caller",
    body=sc.CallbackIn,
    responses={200: sc.CallbackOut},
    tags=TAGS,
)
async def call_back(request: web.Request) -> web.Response:
    """Create a callback request for the caller (once per message)."""
    tenant_id, _ = _tenant(request, *STAFF)
    vm = await _message(request, tenant_id)
    data = await _body(request)
    db = _deps(request).db
    async with db.session() as s:
        tenant = await s.get(Tenant, tenant_id)
        assert tenant is not None
        queue = data.get("queue")
        if queue is None:
            queue = await s.scalar(
                select(Queue.name).where(Queue.tenant_id == tenant_id).order_by(Queue.id).limit(1)
            )
        elif not isinstance(queue, str) or not await s.scalar(
            select(Queue.id).where(Queue.name == queue, Queue.tenant_id == tenant_id)
        ):
            raise _invalid("queue", "must name one of the tenant's queues")
    if not queue:
        raise _invalid("queue", "the tenant has no queue to call back from")
    try:
        # The same destination policy as every outgoing leg (no premium rate, own country).
        policy = DestinationPolicy.for_country(tenant.region or "DE")
        number = callback_number(vm.caller_e164, policy)
    except DestinationRefused as exc:
        raise _invalid("caller", str(exc)) from None
    request_id = await CallbackRepository(db).add(
        NewCallback(tenant.slug, number, queue, vm.language, f"voicemail-{vm.id}", utcnow())
    )
    async with db.session() as s:
        row = await s.get(Voicemail, vm.id)
        assert row is not None
        row.callback_id = request_id
        view = payload(row)
        status = await s.scalar(
            select(CallbackRequest.status).where(CallbackRequest.id == request_id)
        )
    return web.json_response({**view, "callback": {"id": request_id, "status": status}})


@routes.post(PREFIX + "/messages/{voicemail_id:\\d+}/contact")
@described("Link to a CRM contact", body=sc.ContactIn, responses={200: sc.MessageOut}, tags=TAGS)
async def link_contact(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    vm = await _message(request, tenant_id)
    contact_id = _optional_id(await _body(request), "contact_id")
    async with _deps(request).db.session() as s:
        if contact_id is not None:
            from crm import repository as repo

            try:
                await repo.get_contact(s, contact_id, tenant_id)
            except repo.NotFound:
                raise _invalid("contact_id", f"contact {contact_id} not found") from None
        row = await s.get(Voicemail, vm.id)
        assert row is not None
        row.contact_id = contact_id
        view = payload(row)
    return web.json_response(view)


@routes.post(PREFIX + "/messages/{voicemail_id:\\d+}/retry")
@described(
    "Transcribe again after a failure", responses={202: sc.MessageOut}, no_body=True, tags=TAGS
)
async def retry_transcription(request: web.Request) -> web.Response:
    tenant_id, _ = _tenant(request, *STAFF)
    vm = await _message(request, tenant_id)
    if vm.status != "stored" or vm.transcript_status != "failed":
        raise auth.json_error(
            web.HTTPConflict, "conflict", "only a failed transcription is retried"
        )
    deps = _deps(request)
    async with deps.db.session() as s:
        # A fresh job: the failed one keeps its history.
        await s.execute(
            update(Job)
            .where(Job.key == f"voicemail:{vm.id}:transcribe")
            .values(key=None)
            .execution_options(synchronize_session=False)
        )
        await transcribe_task(deps).enqueue(
            s, {"voicemail_id": vm.id}, key=f"voicemail:{vm.id}:transcribe"
        )
        row = await s.get(Voicemail, vm.id)
        assert row is not None
        row.transcript_status, row.transcript_error = "pending", None
        view = payload(row)
    return web.json_response(view, status=202)


def setup(app: web.Application, deps: VoicemailDeps) -> None:
    app[DEPS] = deps
    app.add_routes(routes)
    app.add_routes(mailboxes.routes)
