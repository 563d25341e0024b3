"""``POST /api/dashboards/callbacks``: a receptionist or supervisor asks for a callback.

Body: ``{"tenant": slug, "number": "+49…", "linkedid"?: live call, "call_id"?: a finished
call (the wallboard's abandoned list)}``. The request joins the tenant's callback list like
one the caller asked for in the IVR (same table; the destination policy refuses premium-rate
or emergency numbers), on the queue and language of that call, or the tenant's first
queue. Requests for the same number merge (a second click returns the first one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import auth
from callcenter.callbacks.store import CallbackRateLimited, CallbackRepository, NewCallback
from callcenter.db.models import Call, Tenant
from callcenter.db.session import DATABASE
from callcenter.phone.policy import DestinationPolicy, DestinationRefused

STAFF = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)
QueueDefaults = Callable[[str], tuple[str, str] | None]  # tenant slug -> (queue, language)
CallLookup = Callable[[str], Any]  # linkedid -> live call view or None

DEFAULTS: web.AppKey[QueueDefaults] = web.AppKey("dashboards_cb_defaults", object)  # type: ignore[arg-type]
LIVE_CALLS: web.AppKey[CallLookup] = web.AppKey("dashboards_cb_calls", object)  # type: ignore[arg-type]


def _invalid(detail: str) -> web.HTTPException:
    return auth.json_error(web.HTTPBadRequest, "invalid_request", detail)


async def create(request: web.Request) -> web.Response:
    auth.require_role(request, *STAFF)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _invalid("body must be a JSON object")
    slug, number = body.get("tenant"), body.get("number")
    linkedid, call_id = body.get("linkedid") or None, body.get("call_id") or None
    if not isinstance(slug, str) or not slug:
        raise _invalid("tenant: a tenant slug is required")
    if not isinstance(number, str):
        raise _invalid("number: required")
    if linkedid is not None and not isinstance(linkedid, str):
        raise _invalid("linkedid: must be a string")
    if call_id is not None and not str(call_id).isdigit():
        raise _invalid("call_id: must be a call id")
    async with request.app[DATABASE].session() as session:
        tenant = (
            await session.execute(select(Tenant.id, Tenant.region).where(Tenant.slug == slug))
        ).one_or_none()
        row = await session.get(Call, int(call_id)) if call_id is not None else None
    if tenant is None:
        raise auth.json_error(web.HTTPNotFound, "not_found", f"tenant: no tenant {slug!r}")
    policy = DestinationPolicy.for_country(tenant.region or "DE")
    try:
        # The caller's own number (from the card or the abandoned list), not a typed one.
        e164 = policy.check(number).e164
    except DestinationRefused as exc:
        raise auth.json_error(
            web.HTTPUnprocessableEntity, "invalid_number", f"number: {exc.detail}"
        ) from None
    queue, language = _queue_of(request, slug, linkedid, row)
    try:
        added = await CallbackRepository(request.app[DATABASE]).add_or_merge(
            NewCallback(
                tenant=slug,
                number=e164,
                queue=queue,
                language=language,
                linkedid=linkedid or (row.linkedid if row is not None else None),
                requested_at=datetime.now(UTC),
                source="console",
            )
        )
    except CallbackRateLimited as exc:
        raise auth.json_error(web.HTTPTooManyRequests, "rate_limited", str(exc)) from None
    return web.json_response(
        {"id": added.id, "merged": added.merged, "tenant": slug, "number": e164, "queue": queue},
        status=201,
    )


def _queue_of(
    request: web.Request, slug: str, linkedid: str | None, row: Call | None
) -> tuple[str, str]:
    defaults = request.app[DEFAULTS](slug)
    live = request.app[LIVE_CALLS](linkedid) if linkedid else None
    queue = (live or {}).get("queue") or (row.queue if row is not None else None)
    language = (live or {}).get("language") or (row.language if row is not None else None)
    if queue is None:
        if defaults is None:
            raise auth.json_error(web.HTTPConflict, "conflict", f"tenant {slug!r} has no queue")
        queue = defaults[0]
    return str(queue), str(language or (defaults[1] if defaults else "de"))


def setup(app: web.Application, defaults: QueueDefaults, live_calls: CallLookup) -> None:
    app[DEFAULTS] = defaults
    app[LIVE_CALLS] = live_calls
    app.router.add_post("/api/dashboards/callbacks", create)
