"""REST routes for callbacks (documented in docs/callbacks.md).

``GET /api/callbacks`` (pending list with virtual positions; ``?tenant=&queue=``),
``POST /api/callbacks`` (create: receptionist or API, e.g. from a voicemail or an abandoned
call), ``GET /api/callbacks/{id}`` (with every attempt) and ``POST /api/callbacks/{id}/
{cancel|priority|schedule|note|assign}`` (assign: offered to that receptionist only, until
the tenant's ``assign_fallback``; see :mod:`callbacks.assignment`). Reading needs a login
(tenant users see their own tenants); changing needs a staff role. Every refusal names the
field: 400 for a malformed body (or a schedule at or after the expiry), 422 with the
destination policy's ``reason`` for a number that may not be called back, 409 for a
callback that is already being dialled, 429 for too many requests for one number.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

from callbacks import schemas as sc
from callbacks.manage import AfterExpiry, CallbackAdmin, NotChangeable
from callbacks.ordering import Place
from callbacks.store import CallbackRateLimited, CallbackRepository, NewCallback
from callcenter import api, auth
from callcenter.contract import described
from callcenter.db.session import Database
from callcenter.phone.policy import DestinationPolicy, DestinationRefused

TAGS = ("callbacks",)
WRITE_ROLES = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)
MAX_NOTE = 2000
MAX_PRIORITY = 100


class DialerHooks(Protocol):
    def wake(self) -> None: ...

    async def drop_slot(self, channel_id: str) -> None: ...


_invalid = api.invalid


_body = api.json_body


def _text(body: dict[str, Any], field: str, *, required: bool, limit: int = 200) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "non-empty string required")
    if len(value) > limit:
        raise _invalid(field, f"at most {limit} characters")
    if any(ch in value for ch in "\r\n") and field != "note":
        raise _invalid(field, "line breaks are not allowed")
    return value.strip()


def _when(body: dict[str, Any], field: str) -> datetime | None:
    value = body.get(field)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise _invalid(field, "ISO 8601 date and time required") from None
    if when.tzinfo is None:
        raise _invalid(field, "a time zone offset is required (e.g. 2026-12-01T14:00:00+01:00)")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted out of range by the offset
        raise _invalid(field, "date out of range") from None


def _priority(body: dict[str, Any]) -> int:
    value = body.get("priority", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PRIORITY:
        raise _invalid("priority", f"whole number 0..{MAX_PRIORITY} required")
    return value


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise auth.json_error(web.HTTPNotFound, "not_found", f"no callback {raw!r}")
    return int(raw)


def setup(
    app: web.Application,
    db: Database,
    repo: CallbackRepository,
    policy: Callable[[str], DestinationPolicy],
    dialer: DialerHooks | None,
    *,
    live: Callable[[str], list[Place]] | None = None,
    publish: Callable[[str, dict[str, Any]], Any] | None = None,
    assign_fallback: Callable[[str], float] = lambda _tenant: 600.0,
) -> None:
    routes = _Routes(db, repo, policy, dialer, live=live, publish=publish)
    routes.admin = CallbackAdmin(db, assign_fallback)
    app.router.add_get("/api/callbacks", routes.list_callbacks)
    app.router.add_post("/api/callbacks", routes.create)
    app.router.add_get("/api/callbacks/{id}", routes.detail)
    app.router.add_post("/api/callbacks/{id}/{op}", routes.operation)


class _Routes:
    """The handlers, over the feature's store, policy and dialler."""

    def __init__(
        self,
        db: Database,
        repo: CallbackRepository,
        policy: Callable[[str], DestinationPolicy],
        dialer: DialerHooks | None,
        *,
        live: Callable[[str], list[Place]] | None,
        publish: Callable[[str, dict[str, Any]], Any] | None,
    ) -> None:
        self.db, self.repo, self.policy, self.dialer = db, repo, policy, dialer
        self.live, self.publish = live, publish
        self.admin = CallbackAdmin(db)

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        if self.publish is not None:
            with contextlib.suppress(Exception):  # Redis down: the tables stay the truth
                await self.publish(event, payload)

    @described(
        "Active callbacks with virtual positions", responses={200: sc.CallbackList}, tags=TAGS
    )
    async def list_callbacks(self, request: web.Request) -> web.Response:
        principal = auth.require_role(request)
        tenant = request.query.get("tenant")
        if tenant is not None and tenant.isdigit():  # the numeric id names it too
            found = await auth.find_tenant(self.db, tenant)
            tenant = found[1] if found is not None else tenant
        queue = request.query.get("queue")
        live = self.live
        rows = await self.admin.pending(
            principal.tenant_ids, tenant=tenant, queue=queue, live=live or (lambda _q: [])
        )
        return web.json_response({"callbacks": rows})

    @described(
        "Create a callback (merges with a waiting one for the same number)",
        body=sc.CallbackIn,
        responses={201: sc.CallbackCreated},
        tags=TAGS,
    )
    async def create(self, request: web.Request) -> web.Response:
        principal = auth.require_role(request, *WRITE_ROLES)
        body = await _body(request)
        tenant = _text(body, "tenant", required=True, limit=64) or ""
        queue = _text(body, "queue", required=True, limit=80) or ""
        language = _text(body, "language", required=False, limit=16) or "de"
        note = _text(body, "note", required=False, limit=MAX_NOTE)
        raw = _text(body, "number", required=True, limit=40) or ""
        due = _when(body, "due_at")
        expires = _when(body, "expires_at")
        priority = _priority(body)
        found = await auth.find_tenant(self.db, tenant)  # slug, or the numeric id
        if found is None or not principal.can_see(found[0]):
            raise auth.json_error(web.HTTPNotFound, "not_found", f"tenant: no tenant {tenant!r}")
        tenant = found[1]
        try:
            number = self.policy(tenant).check(raw).e164
            added = await self.repo.add_or_merge(
                NewCallback(
                    tenant,
                    number,
                    queue,
                    language,
                    None,
                    datetime.now(UTC),
                    priority=priority,
                    source="api",
                    note=note,
                    due_at=due,
                    expires_at=expires,
                )
            )
        except DestinationRefused as exc:
            raise auth.json_error(
                web.HTTPUnprocessableEntity,
                "invalid_number",
                f"number: {exc.detail}",
                reason=str(exc.reason),
            ) from None
        except CallbackRateLimited as exc:
            raise auth.json_error(
                web.HTTPTooManyRequests, "rate_limited", f"number: {exc}", reason=exc.reason
            ) from None
        if self.dialer is not None:
            self.dialer.wake()
        await self.emit(
            "callback.requested", {"id": added.id, "tenant": tenant, "merged": added.merged}
        )
        return web.json_response({"id": added.id, "merged": added.merged}, status=201)

    @described("One callback with its attempts", responses={200: sc.CallbackDetail}, tags=TAGS)
    async def detail(self, request: web.Request) -> web.Response:
        principal = auth.require_role(request)
        found = await self.admin.get(_id(request))
        if found is None or not principal.can_see(found[1]):
            raise auth.json_error(web.HTTPNotFound, "not_found", f"no callback {_id(request)}")
        return web.json_response(found[0])

    @described(
        "Change a callback: cancel, priority, schedule, note, assign",
        body=sc.OperationIn,
        responses={200: sc.CallbackDetail},
        tags=TAGS,
    )
    async def operation(self, request: web.Request) -> web.Response:
        principal = auth.require_role(request, *WRITE_ROLES)
        request_id, op = _id(request), request.match_info["op"]
        tenant_id = await self.admin.tenant_of(request_id)
        if tenant_id is False or not principal.can_see(tenant_id or None):
            raise auth.json_error(web.HTTPNotFound, "not_found", f"no callback {request_id}")
        body = await _body(request) if request.can_read_body else {}
        requeue, values = _change_of(op, body)
        try:
            changed = await self.admin.change(
                request_id, datetime.now(UTC), requeue=requeue, **values
            )
        except KeyError:
            raise auth.json_error(
                web.HTTPNotFound, "not_found", f"no callback {request_id}"
            ) from None
        except NotChangeable as exc:
            raise auth.json_error(web.HTTPConflict, "conflict", str(exc)) from None
        except AfterExpiry as exc:
            raise _invalid("at", str(exc).removeprefix("at: ")) from None
        if self.dialer is not None:
            if changed.old_slot is not None:
                await self.dialer.drop_slot(changed.old_slot)
            self.dialer.wake()
        found = await self.admin.get(request_id)
        body_out = found[0] if found else {"id": request_id}
        event = {"cancel": "cancelled", "assign": "assigned"}.get(op, "updated")
        await self.emit(f"callback.{event}", body_out)
        return web.json_response(body_out)


def _change_of(op: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """What an operation changes: (back into the dialling order?, column values)."""
    if op == "cancel":
        return True, {"status": "cancelled"}
    if op == "priority":
        if "priority" not in body:
            raise _invalid("priority", "required")
        return True, {"priority": _priority(body)}
    if op == "schedule":
        at = _when(body, "at")
        if at is None:
            raise _invalid("at", "required")
        return True, {"due_at": at}
    if op == "note":
        return False, {"note": _text(body, "note", required=True, limit=MAX_NOTE)}
    if op == "assign":  # null: unassigned, back to the shared queue at its place
        # Requeued: a placeholder waiting in the shared queue must not reach anyone else.
        return True, {"assigned_to": _text(body, "agent", required=False, limit=80)}
    raise auth.json_error(web.HTTPNotFound, "not_found", f"no operation {op!r}")
