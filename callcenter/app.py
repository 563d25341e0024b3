"""The aiohttp application: operations endpoints plus each feature's routes.

Long-lived tasks (AMI, ARI, live state, workers) are owned by ``cleanup_ctx`` entries that
:mod:`callcenter.services` adds, so they start with the app and are cancelled cleanly.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from callcenter import __version__, auth
from callcenter.config import AuthConfig, Config
from callcenter.contract import described
from callcenter.contract import http as contract_http
from callcenter.db.models import Tenant
from callcenter.health import run_checks
from callcenter.inputs import input_guard
from callcenter.lifecycle import bounded_shutdown
from callcenter.live_schemas import LiveSnapshot
from callcenter.login_guard import LoginGuard
from callcenter.metrics import CONTENT_TYPE
from callcenter.proxies import forwarded_middleware
from callcenter.services import SERVICES, Services

log = logging.getLogger(__name__)

Handler = auth.Handler


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON errors everywhere; an unexpected exception is logged once and answered 500."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if exc.content_type != "application/json" and exc.status >= 400:
            # aiohttp's own errors (404, 405, 413 …) get the same JSON shape as ours.
            error = exc.reason.lower().replace(" ", "_")
            headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
            return web.json_response(
                {"error": error, "detail": exc.text}, status=exc.status, headers=headers
            )
        raise
    except DBAPIError as exc:
        # The last net for input no handler checked: the database refused a value (out of
        # range, not text) or a reference (foreign key). A client's fault, never a 500.
        status = 409 if isinstance(exc, IntegrityError) else 400
        log.warning("database refused %s %s: %s", request.method, request.path, exc.orig)
        error = "conflict" if status == 409 else "invalid"
        detail = (
            "the request refers to something that does not exist or already exists"
            if status == 409
            else "a value is out of range or not acceptable text"
        )
        return web.json_response({"error": error, "detail": detail}, status=status)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        raise auth.json_error(
            web.HTTPInternalServerError, "internal_error", "see the server log"
        ) from None
    finally:
        services = request.app[SERVICES]
        services.metrics.http_requests.labels(request.method, str(status)).inc()
        if services.config.app.log_level == "debug":
            log.debug(
                "http",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )


async def index(request: web.Request) -> web.Response:
    """What this service offers, so that the URL the demo prints leads somewhere.

    A browser (``Accept: text/html``) is sent to the web application when one is wired
    (its ``/ui`` route decides between the login page and the user's home page)."""
    accept = request.headers.get("Accept", "")
    if "text/html" in accept and any(
        r.resource is not None and r.resource.canonical == "/ui"
        for r in request.app.router.routes()
    ):
        raise web.HTTPFound("/ui")
    routes = sorted(
        {
            f"{r.method} {r.resource.canonical}"
            for r in request.app.router.routes()
            if r.resource is not None and r.method != "HEAD"
        }
    )
    body = {
        "service": "callcenter",
        "version": __version__,
        "health": "/healthz",
        "metrics": "/metrics",
        "login": "POST /api/auth/login {username, password} -> bearer token",
        "routes": routes,
    }
    return web.json_response(body, dumps=_dumps)


async def healthz(request: web.Request) -> web.Response:
    """Each component up or down with a detail; 503 when a required one is down."""
    services = request.app[SERVICES]
    healthy, components = await run_checks(services.checks)
    for comp in components:
        services.metrics.component_up.labels(str(comp["name"])).set(1 if comp["up"] else 0)
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded", "components": components}
    return web.json_response(body, status=200 if healthy else 503, dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


@described("The live state: calls, queues, agents", responses={200: LiveSnapshot}, tags=("live",))
async def live_snapshot(request: web.Request) -> web.Response:
    """The live state (calls, queues, agents) as the dashboards see it, tenant-filtered."""
    principal = auth.require_role(request, "admin", "supervisor", "receptionist", "tenant")
    services = request.app[SERVICES]
    if services.pbx is None:
        raise auth.json_error(web.HTTPServiceUnavailable, "unavailable", "live state not running")
    snap = services.pbx.live.snapshot()
    if principal.tenant_ids is not None:
        snap = _filter_snapshot(snap, await _tenant_slugs(services, principal.tenant_ids))
    return web.json_response(snap, dumps=_dumps)


async def _tenant_slugs(services: Services, tenant_ids: frozenset[int]) -> set[str]:
    async with services.db.session() as session:
        rows = await session.execute(select(Tenant.slug).where(Tenant.id.in_(tenant_ids)))
        return {slug for (slug,) in rows}


def _filter_snapshot(snap: dict[str, Any], slugs: set[str]) -> dict[str, Any]:
    """Keep only what belongs to the caller's tenants: tenant users never see other tenants."""
    calls = {k: c for k, c in (snap.get("calls") or {}).items() if c.get("tenant") in slugs}
    queues = {k: q for k, q in (snap.get("queues") or {}).items() if q.get("tenant") in slugs}
    # Lines (trunks, receptionists' phones) are the secretariat's, not a tenant's.
    return {**snap, "calls": calls, "queues": queues, "agents": {}, "lines": {}}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, ensure_ascii=False)


def auth_settings(config: AuthConfig) -> auth.AuthSettings:
    """``[auth]`` as the auth module's settings."""
    secure = {"auto": None, "true": True, "false": False}[config.cookie_secure]
    return auth.AuthSettings(token_ttl=timedelta(hours=config.token_hours), cookie_secure=secure)


def login_guard(config: Config) -> LoginGuard:
    """The login throttle: shared through Redis when the app has one, else per process."""
    return LoginGuard.for_redis(config.redis.url) if config.redis.url else LoginGuard()


def build_app(services: Services) -> web.Application:
    """The whole HTTP surface; features add their routes through ``services.http_setups``."""
    config = services.config
    middlewares: list[Middleware] = [errors_middleware, input_guard]
    if config.auth.proxies:  # first, so every later step sees the real client
        middlewares.insert(0, forwarded_middleware(config.auth.proxies))
    app = web.Application(middlewares=middlewares, client_max_size=32 * 1024 * 1024)
    app[SERVICES] = services
    auth.setup(app, services.db, auth_settings(config.auth), login_guard(config))
    contract_http.setup(app)
    app.router.add_get("/", index)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/live", live_snapshot)
    for setup in services.http_setups:
        setup(app)
    app.cleanup_ctx.extend(bounded_shutdown(lifecycle) for lifecycle in services.lifecycles)
    return app


async def freeze_startup_heap(_app: web.Application) -> None:
    """``on_startup`` of a serving process: move everything alive once the app is up
    (modules, routes, templates, config: about 170,000 objects) out of the garbage
    collector's view. Each full collection walked them all again: 120 ms of CPU on the
    2-core machine, a stall every live update queued behind (bench dashboards). They live as
    long as the process anyway. Not in :func:`build_app`: a test process builds hundreds of
    apps, and would keep each one's leftovers."""
    gc.collect()
    gc.freeze()
