"""Routes of the web application: login and account pages, the live websocket, fragments.

- ``GET /login``, ``GET|POST /ui/language`` (``locale``, ``next``), ``GET /ui`` (the home
  page of the user's role), the registered pages (:mod:`dashboards.pages`);
- ``POST /api/account/password`` ``{"current", "new"}``: every session of the user ends
  and this browser gets a new one; ``PUT /api/account/preferences`` ``{"locale"}``;
- ``GET /ws/live?view=console|wallboard``: the live fragments (staff only);
- ``GET /ui/parts/caller?linkedid=``: the caller pane (CRM contact, handling notes,
  history) of a live call.

Actions on calls, receptionists and notes go to the same REST API every client uses
(``/api/calls/…``, ``/api/agents/…``, ``/api/crm/…``); nothing here bypasses its checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import select

from callcenter import audit, auth
from callcenter.contract import described
from callcenter.db.models import Tenant, User
from callcenter.db.session import DATABASE
from callcenter.db.users import UserRepository
from callcenter.passwords import InvalidHash, WeakPassword, verify_password
from crm import repository as crm_repo
from crm import timeline
from crm.repository import NotFound
from dashboards import i18n, pages
from dashboards.client import Client
from dashboards.models import UserPreference
from dashboards.push import VIEWS, Hub
from dashboards.schemas import (
    PasswordChangedOut,
    PasswordChangeIn,
    PreferencesIn,
    PreferencesOut,
)
from dashboards.source import StateSource

log = logging.getLogger(__name__)

HUB: web.AppKey[Hub] = web.AppKey("dashboards_hub", Hub)
SOURCE: web.AppKey[StateSource] = web.AppKey("dashboards_source", StateSource)
LIVE_ROLES = {
    "console": pages.STAFF,
    "wallboard": (auth.ADMIN, auth.SUPERVISOR),
}


def _safe_next(target: str | None, default: str = "/ui") -> str:
    """Only local paths (no ``//host`` or scheme): the language switch is no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@described("The login page", responses={200: "text/html"}, tags=("ui",), public=True)
async def login_page(request: web.Request) -> web.StreamResponse:
    viewer = await pages.viewer_of(request)
    target = _safe_next(request.query.get("next"), "/ui")
    if viewer is not None:
        raise web.HTTPFound(target)
    return await pages.render(request, None, "login.html", {"next": target})


@described("Redirect to the home page of the user's role", responses={302: None}, tags=("ui",))
async def home(request: web.Request) -> web.StreamResponse:
    viewer = await pages.viewer_or_redirect(request)
    raise web.HTTPFound(request.app[pages.REGISTRY].home_for(viewer.role))


@described("Switch the UI language (form: locale, next)", responses={302: None}, tags=("ui",))
async def set_language(request: web.Request) -> web.StreamResponse:
    data: Any = await request.post() if request.method == "POST" else request.query
    locale = str(data.get("locale") or "")
    if locale not in i18n.LOCALES:
        raise auth.json_error(
            web.HTTPBadRequest, "invalid_request", f"locale: one of {', '.join(i18n.LOCALES)}"
        )
    principal = auth.principal_of(request)
    if principal is not None:
        await _save_locale(request, principal.user_id, locale)
    response = web.HTTPFound(_safe_next(str(data.get("next") or ""), "/ui"))
    response.set_cookie(
        i18n.COOKIE, locale, max_age=365 * 86400, path="/", samesite="Lax", httponly=True
    )
    raise response


async def _save_locale(request: web.Request, user_id: int, locale: str) -> None:
    async with request.app[DATABASE].session() as session:
        pref = await session.get(UserPreference, user_id)
        if pref is None:
            session.add(UserPreference(user_id=user_id, locale=locale))
        else:
            pref.locale, pref.updated_at = locale, datetime.now(UTC)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise auth.json_error(web.HTTPBadRequest, "invalid_request", "body must be a JSON object")
    return body


@described(
    "Save the user's UI language",
    body=PreferencesIn,
    responses={200: PreferencesOut},
    tags=("ui",),
)
async def put_preferences(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    locale = (await _json_object(request)).get("locale")
    if locale not in i18n.LOCALES:
        raise auth.json_error(
            web.HTTPBadRequest, "invalid_request", f"locale: one of {', '.join(i18n.LOCALES)}"
        )
    await _save_locale(request, principal.user_id, str(locale))
    return web.json_response({"locale": locale})


@described(
    "Change the own password (ends every other session)",
    body=PasswordChangeIn,
    responses={200: PasswordChangedOut},
    tags=("auth",),
)
async def change_password(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    body = await _json_object(request)
    current, new = body.get("current"), body.get("new")
    if not isinstance(current, str) or not current:
        raise auth.json_error(web.HTTPBadRequest, "invalid_request", "current: required")
    if not isinstance(new, str) or not new:
        raise auth.json_error(web.HTTPBadRequest, "invalid_request", "new: required")
    database = request.app[DATABASE]
    async with database.session() as session:
        stored = await session.scalar(
            select(User.password_hash).where(User.id == principal.user_id)
        )
    try:
        ok = stored is not None and await asyncio.to_thread(verify_password, current, stored)
    except InvalidHash:
        ok = False
    if not ok:
        raise auth.json_error(web.HTTPForbidden, "forbidden", "current: wrong password")
    try:
        await UserRepository(database).set_password(principal.username, new, revoke=True)
    except WeakPassword as exc:
        raise auth.json_error(web.HTTPBadRequest, "invalid_request", f"new: {exc}") from None
    await audit.record(database, principal, "account.password", target=principal.username)
    settings = request.app[auth.AUTH_SETTINGS]
    token, _expires = await auth.issue_token(database, principal.user_id, settings.token_ttl)
    response = web.json_response({"status": "changed", "other_sessions": "ended"})
    response.set_cookie(
        auth.COOKIE_NAME,
        token,
        max_age=int(settings.token_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure if settings.cookie_secure is None else settings.cookie_secure,
    )
    return response


# ---------------------------------------------------------------- the caller pane


@described(
    "The caller pane of a live call (HTML fragment)", responses={200: "text/html"}, tags=("ui",)
)
async def caller_part(request: web.Request) -> web.StreamResponse:
    """The CRM record of a live call's caller: contact, handling notes, recent history."""
    viewer = await pages.viewer_or_redirect(request)
    if viewer.role not in pages.STAFF:
        raise auth.json_error(web.HTTPForbidden, "forbidden", "staff only")
    view = request.app[SOURCE].call_view(request.query.get("linkedid", ""))
    context: dict[str, Any] = {"call": view, "contact": None, "history": [], "notes": []}
    if view is not None and view.get("tenant"):
        context.update(await _contact_context(request, str(view["tenant"]), view.get("contact")))
    response = await pages.render(request, viewer, "parts/caller.html", context)
    return response


async def _contact_context(request: web.Request, slug: str, contact: Any) -> dict[str, Any]:
    async with request.app[DATABASE].session() as session:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
        if tenant_id is None or not str(contact or "").isdigit():
            return {"tenant_id": tenant_id}
        try:
            row = await crm_repo.get_contact(session, int(str(contact)), tenant_id)
            entries = await timeline.timeline(session, tenant_id, row.id, limit=8)
        except NotFound:
            return {"tenant_id": tenant_id}
        return {
            "tenant_id": tenant_id,
            "contact": {
                "id": row.id,
                "name": row.display_name,
                "vip": row.vip,
                "notes": row.notes,
                "email": row.email,
                "language": row.language,
                "tags": list(row.tags or ()),
            },
            "history": [e.to_dict() for e in entries],
        }


# ---------------------------------------------------------------- websocket


@described(
    "Live fragments of the console or the wallboard (websocket, staff only)",
    responses={101: None},
    tags=("ui",),
)
async def live_ws(request: web.Request) -> web.StreamResponse:
    viewer = await pages.viewer_of(request)
    view = request.query.get("view", "")
    if view not in VIEWS:
        raise auth.json_error(web.HTTPBadRequest, "invalid_request", "view: console or wallboard")
    if viewer is None:
        raise auth.json_error(web.HTTPUnauthorized, "unauthorized", "login required")
    if viewer.role not in LIVE_ROLES[view]:
        raise auth.json_error(web.HTTPForbidden, "forbidden", f"role {viewer.role!r}: no {view}")
    hub = request.app[HUB]
    # No per-message compression: the same text goes to many clients, deflating it for
    # each of them would cost more CPU than the loopback/LAN bytes it saves.
    ws = web.WebSocketResponse(heartbeat=20.0, compress=False, max_msg_size=4096)
    await ws.prepare(request)
    client = Client(ws, view, viewer.locale, viewer.interface)
    request.app[SOCKETS].add(ws)
    hub.attach(client)
    writer = asyncio.create_task(client.run(), name="dashboards-ws-writer")
    try:
        async for msg in ws:  # the page sends nothing; read to see pings and the close
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.detach(client)
        request.app[SOCKETS].discard(ws)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await writer
    return ws


SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("dashboards_sockets")


async def _close_sockets(app: web.Application) -> None:
    """``AppRunner.cleanup()`` waits for open websockets: close them first (guide §8)."""
    sockets: set[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=1001, message=b"server shutdown")


def setup(app: web.Application, hub: Hub, source: StateSource) -> None:
    app[HUB] = hub
    app[SOURCE] = source
    app[SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/login", login_page)
    app.router.add_get("/ui", home)
    app.router.add_route("*", "/ui/language", set_language)
    app.router.add_post("/api/account/password", change_password)
    app.router.add_put("/api/account/preferences", put_preferences)
    app.router.add_get("/ui/parts/caller", caller_part)
    app.router.add_get("/ws/live", live_ws)
