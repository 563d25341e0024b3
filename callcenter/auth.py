"""Authentication and authorisation for the HTTP API, enforced on the server.

Login exchanges username and password for a random bearer token; only its SHA-256 is stored
(``api_tokens``), with an expiry. The browser console gets the same token as an HttpOnly,
SameSite=Strict cookie. A middleware turns either into ``request[PRINCIPAL]`` (a typed
``web.RequestKey``); handlers then call :func:`require_role` / :func:`require_tenant`, and
queries use :func:`principal_tenant_filter`, so a tenant's own user only ever sees its own tenants.
Roles, principals and the token store are in :mod:`callcenter.tokens` (names re-exported here).

Roles: ``admin`` (everything), ``supervisor`` (all tenants, live control), ``receptionist``
(all tenants, call handling), ``tenant`` (a client company's user: read-only, own tenants).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import ColumnElement, delete, false, select, true, update
from sqlalchemy.orm import InstrumentedAttribute

from callcenter import api, tenant_ref
from callcenter.auth_schemas import LoggedOut, LoginIn, LoginOut, MeOut
from callcenter.contract.describe import described
from callcenter.db.models import ApiToken, Tenant, User
from callcenter.db.session import DATABASE, Database
from callcenter.login_guard import LoginGuard, ThrottleLimits
from callcenter.passwords import (
    InvalidHash,
    burn_verification_time,
    hash_password,
    needs_rehash,
    verify_password,
)
from callcenter.tokens import (
    ADMIN,
    RECEPTIONIST,
    STAFF_ROLES,
    SUPERVISOR,
    TENANT,
    Principal,
    issue_token,
    resolve_token,
    token_digest,
)

__all__ = [
    "ADMIN",
    "AUTH_PROBLEM",
    "AUTH_SETTINGS",
    "COOKIE_NAME",
    "LOGIN_GUARD",
    "PRINCIPAL",
    "RECEPTIONIST",
    "STAFF_ROLES",
    "SUPERVISOR",
    "TENANT",
    "AuthSettings",
    "Handler",
    "Principal",
    "auth_middleware",
    "find_tenant",
    "issue_token",
    "json_error",
    "login",
    "logout",
    "me",
    "principal_of",
    "principal_tenant_filter",
    "require_role",
    "require_tenant",
    "resolve_token",
    "setup",
    "tenant_middleware",
    "token_digest",
]

log = logging.getLogger(__name__)

COOKIE_NAME = "cc_session"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Token lifetime, cookie and login throttling knobs (``[auth]`` in the configuration)."""

    token_ttl: timedelta = timedelta(hours=12)
    cookie_secure: bool | None = None  # None: Secure when the request came over HTTPS
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    touch_interval: timedelta = timedelta(minutes=1)  # how often last_used_at is written


PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
"""``request[PRINCIPAL]``: the :class:`Principal`, or ``None`` for anonymous requests."""
AUTH_PROBLEM: web.RequestKey[str] = web.RequestKey("auth_problem", str)
"""Why a presented token was not accepted (becomes the 401 detail)."""
AUTH_SETTINGS: web.AppKey[AuthSettings] = web.AppKey("auth_settings", AuthSettings)
LOGIN_GUARD: web.AppKey[LoginGuard] = web.AppKey("login_guard", LoginGuard)


# --- errors ---------------------------------------------------------------------------


json_error = api.json_error
"""The API's error answer (:func:`callcenter.api.json_error`)."""


def _unauthorized(detail: str) -> web.HTTPException:
    return json_error(
        web.HTTPUnauthorized,
        "unauthorized",
        detail,
        {"WWW-Authenticate": 'Bearer realm="callcenter"'},
    )


# --- helpers for handlers -------------------------------------------------------------


def principal_of(request: web.Request) -> Principal | None:
    """The authenticated principal, or ``None``."""
    return request.get(PRINCIPAL)


def require_role(request: web.Request, *roles: str) -> Principal:
    """The principal if logged in and (when ``roles`` are given) in one of them.

    401 when anonymous, 403 when the role is not allowed.
    """
    principal = principal_of(request)
    if principal is None:
        raise _unauthorized(request.get(AUTH_PROBLEM, "login required"))
    if roles and principal.role not in roles:
        raise json_error(web.HTTPForbidden, "forbidden", f"role {principal.role!r} may not do this")
    return principal


def require_tenant(request: web.Request, tenant_id: int, *roles: str) -> Principal:
    """The principal if it may see ``tenant_id``; 404 otherwise so existence does not leak."""
    principal = require_role(request, *roles)
    if not principal.can_see(tenant_id):
        raise json_error(web.HTTPNotFound, "not_found", f"no tenant {tenant_id}")
    return principal


def principal_tenant_filter(
    principal: Principal, column: InstrumentedAttribute[Any] | ColumnElement[Any] = Tenant.id
) -> ColumnElement[bool]:
    """A WHERE clause limiting ``column`` (a tenant id column) to the visible tenants."""
    if principal.tenant_ids is None:
        return true()
    if not principal.tenant_ids:
        return false()
    return column.in_(sorted(principal.tenant_ids))


def _token_from(request: web.Request) -> tuple[str | None, bool]:
    """``(token, came_from_cookie)``; the Authorization header wins over the cookie."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip(), False
        return None, False
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie, True) if cookie else (None, False)


def _cross_site(request: web.Request) -> bool:
    """A cookie-authenticated write from another origin (CSRF), judged by ``Origin``."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return urlsplit(origin).netloc.lower() != request.host.lower()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the bearer token or session cookie into ``request[PRINCIPAL]``."""
    request[PRINCIPAL] = None
    token, via_cookie = _token_from(request)
    if token is not None:
        app = request.app
        principal = await resolve_token(app[DATABASE], token, app[AUTH_SETTINGS].touch_interval)
        if principal is None:
            request[AUTH_PROBLEM] = "invalid or expired token"
        elif via_cookie and request.method not in _SAFE_METHODS and _cross_site(request):
            raise json_error(web.HTTPForbidden, "forbidden", "cross-site request refused")
        request[PRINCIPAL] = principal
    elif "Authorization" in request.headers:
        request[AUTH_PROBLEM] = "Authorization header must be 'Bearer <token>'"
    return await handler(request)


find_tenant = tenant_ref.find_tenant
"""``(id, slug)`` of the tenant a path names (:func:`callcenter.tenant_ref.find_tenant`)."""


@web.middleware
async def tenant_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve ``{tenant}`` in the path (slug, or the numeric id of old clients) into
    ``match_info["tenant_id"]``/``["slug"]``, after the login check (docs/api.md)."""
    ref = request.match_info.get(tenant_ref.PARAM)
    if ref is None:
        return await handler(request)
    principal = require_role(request)  # 401 before anything is said about tenants
    found = await tenant_ref.find_tenant(request.app[DATABASE], ref)
    info = request.match_info
    if found is None and getattr(info.handler, tenant_ref.CREATES, False):
        info["slug"] = ref
        return await handler(request)
    if found is None or not principal.can_see(found[0]):
        raise api.not_found(f"no tenant {ref!r}", field=tenant_ref.PARAM)
    info["tenant_id"], info["slug"] = str(found[0]), str(found[1])
    return await handler(request)


# --- routes ---------------------------------------------------------------------------


async def _credentials(request: web.Request) -> tuple[str, str]:
    try:
        body = await request.json()
    except ValueError:
        raise json_error(
            web.HTTPBadRequest, "invalid_request", "body must be JSON: {username, password}"
        ) from None
    if not isinstance(body, dict):
        raise json_error(web.HTTPBadRequest, "invalid_request", "body must be a JSON object")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise json_error(
            web.HTTPBadRequest, "invalid_request", "username: non-empty string required"
        )
    if not isinstance(password, str) or not password:
        raise json_error(
            web.HTTPBadRequest, "invalid_request", "password: non-empty string required"
        )
    return username, password


async def _check_password(
    guard: LoginGuard, database: Database, username: str, password: str
) -> User | None:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Same cost as a real check: response time must not reveal which usernames exist.
        await guard.hashing(lambda: burn_verification_time(password))
        return None
    stored = user.password_hash
    try:
        ok = await guard.hashing(lambda: verify_password(password, stored))
    except InvalidHash as exc:
        log.error("user %r has an unreadable password hash: %s", username, exc)
        return None
    return user if ok else None


_WINDOW_TEXT = {
    "pair": "this account from this address",
    "account": "this account: slowed down",
    "address": "this address",
}


def _cookie_secure(request: web.Request, settings: AuthSettings) -> bool:
    return request.secure if settings.cookie_secure is None else settings.cookie_secure


@described(
    "Log in: a bearer token for username and password",
    body=LoginIn,
    responses={200: LoginOut},
    tags=("auth",),
    public=True,
)
async def login(request: web.Request) -> web.Response:
    """``POST /api/auth/login`` with ``{"username", "password"}`` → a bearer token."""
    app = request.app
    settings, guard, database = app[AUTH_SETTINGS], app[LOGIN_GUARD], app[DATABASE]
    username, password = await _credentials(request)
    address = request.remote or ""
    # Counted before the password is checked (login_guard's rule): concurrent guesses
    # cannot all pass a count that is only written after the slow hash.
    verdict = await guard.attempt(username, address)
    if not verdict.allowed:
        raise json_error(
            web.HTTPTooManyRequests,
            "too_many_attempts",
            f"too many login attempts ({_WINDOW_TEXT[verdict.window]}); "
            f"try again in {verdict.retry_after} s",
            {"Retry-After": str(verdict.retry_after)},
        )
    user = await _check_password(guard, database, username, password)
    if user is None:
        await guard.failed(address)
        raise _unauthorized("wrong username or password")
    await guard.succeeded(username, address)
    token, expires = await issue_token(database, user.id, settings.token_ttl)
    values: dict[str, Any] = {"last_login_at": datetime.now(UTC)}
    if needs_rehash(user.password_hash):  # scrypt or weaker argon2: now argon2id
        values["password_hash"] = await guard.hashing(lambda: hash_password(password))
    async with database.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(**values))
    response = web.json_response(
        {
            "token": token,
            "token_type": "Bearer",
            "expires_at": expires.isoformat(),
            "user": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
            },
        }
    )
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(settings.token_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_cookie_secure(request, settings),
    )
    return response


@described("Log out: revoke this token", responses={200: LoggedOut}, no_body=True, tags=("auth",))
async def logout(request: web.Request) -> web.Response:
    """``POST /api/auth/logout``: revoke the token used for this request."""
    principal = require_role(request)
    async with request.app[DATABASE].session() as session:
        await session.execute(delete(ApiToken).where(ApiToken.id == principal.token_id))
    response = web.json_response({"status": "logged_out"})
    response.del_cookie(COOKIE_NAME, path="/")
    return response


@described("Who am I: role and visible tenants", responses={200: MeOut}, tags=("auth",))
async def me(request: web.Request) -> web.Response:
    """``GET /api/auth/me``: who am I, which role, which tenants (``null``: all)."""
    principal = require_role(request)
    async with request.app[DATABASE].session() as session:
        display_name = await session.scalar(
            select(User.display_name).where(User.id == principal.user_id)
        )
        tenants = None
        if principal.tenant_ids is not None:
            rows = await session.execute(
                select(Tenant.id, Tenant.slug, Tenant.name)
                .where(principal_tenant_filter(principal))
                .order_by(Tenant.slug)
            )
            tenants = [{"id": i, "slug": s, "name": n} for i, s, n in rows]
    return web.json_response(
        {
            "id": principal.user_id,
            "username": principal.username,
            "display_name": display_name,
            "role": principal.role,
            "tenants": tenants,
        }
    )


def setup(
    app: web.Application,
    database: Database,
    settings: AuthSettings | None = None,
    guard: LoginGuard | None = None,
) -> None:
    """Install the auth middleware and ``/api/auth/*`` routes; stores ``app[DATABASE]``.

    ``guard``: the login throttle (:meth:`LoginGuard.for_redis` to share counts between app
    instances); default one in this process with ``settings.throttle``."""
    settings = settings or AuthSettings()
    app[DATABASE] = database
    app[AUTH_SETTINGS] = settings
    app[LOGIN_GUARD] = guard or LoginGuard(limits=settings.throttle)
    app.middlewares.append(auth_middleware)
    app.middlewares.append(tenant_middleware)
    app.router.add_post("/api/auth/login", login)
    app.router.add_post("/api/auth/logout", logout)
    app.router.add_get("/api/auth/me", me)
