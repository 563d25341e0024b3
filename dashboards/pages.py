"""Pages of the web application: the registry other features add pages to, and rendering.

Every page is server-rendered from a template that extends ``base.html`` (navigation,
account menu, language switch, connection banner). A feature adds a page with
:meth:`PageRegistry.add` (see ``dashboards/README.md``): a path, an English label (the
msgid, translated by the catalogue), the roles that see it, a template and an async
function returning the template's context. The registry checks the role before the
function runs and answers anonymous visitors with a redirect to the login page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcenter import auth
from callcenter.db.models import User
from callcenter.db.session import DATABASE
from dashboards import i18n
from dashboards.models import UserPreference
from dashboards.render import ENV_KEYS


def N_(message: str) -> str:
    """Marks a string for the catalogue (pybabel's ``N_`` keyword); translated when shown."""
    return message


STAFF = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)
ALL_ROLES = (*STAFF, auth.TENANT)
ROLE_LABELS = {
    auth.ADMIN: N_("Administrator"),
    auth.SUPERVISOR: N_("Supervisor"),
    auth.RECEPTIONIST: N_("Receptionist"),
    auth.TENANT: N_("Tenant viewer"),
}
# Texts the page script shows (toasts, errors), handed to it translated as JSON.
SCRIPT_TEXTS = (
    N_("The server cannot be reached."),
    N_("Refused"),
    N_("Parked on slot"),
    N_("Done"),
    N_("Choose a staff member or type a number."),
    N_("Note sent"),
    N_("Callback created"),
    N_("Your phone rings: "),
    N_("Logged out"),
    N_("Threshold exceeded: "),
    N_("The two new passwords differ."),
    N_("pickup"),
    N_("hold"),
    N_("retrieve"),
    N_("transfer"),
    N_("attended-transfer"),
    N_("attended-complete"),
    N_("attended-cancel"),
    N_("park"),
    N_("unpark"),
    N_("hangup"),
    N_("voicemail"),
    N_("move"),
    N_("listen"),
    N_("whisper"),
    N_("barge"),
)
# Call outcomes as the history shows them (callcenter.state.records.Outcome).
OUTCOME_TEXTS = (
    N_("answered"),
    N_("abandoned"),
    N_("timeout"),
    N_("blocked"),
    N_("diverted"),
    N_("ivr"),
    N_("lost"),
)

ContextFn = Callable[[web.Request, "Viewer"], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in user as pages see them."""

    principal: auth.Principal
    display_name: str
    locale: str
    interface: str | None = None  # the receptionist's phone (agent position), if any

    @property
    def role(self) -> str:
        return self.principal.role


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    label: str  # English; the msgid in the catalogue
    roles: tuple[str, ...]
    template: str
    context: ContextFn
    order: int = 100  # position in the navigation (lower first)
    nav: bool = True
    home: tuple[str, ...] = ()  # roles that land here after logging in


@dataclass
class PageRegistry:
    """Pages in navigation order and extra template folders (added before start-up)."""

    pages: list[Page] = field(default_factory=list)
    template_dirs: list[Path] = field(default_factory=list)

    def add(self, page: Page) -> None:
        if any(p.path == page.path for p in self.pages):
            raise ValueError(f"page {page.path!r} registered twice")
        self.pages.append(page)
        self.pages.sort(key=lambda p: (p.order, p.path))

    def add_templates(self, directory: Path) -> None:
        """Templates of another feature (they may extend ``base.html``)."""
        self.template_dirs.append(directory)

    def nav_for(self, role: str) -> list[Page]:
        return [p for p in self.pages if p.nav and role in p.roles]

    def home_for(self, role: str) -> str:
        """The page a role lands on: the one naming it as ``home``, else its first page."""
        pages = self.nav_for(role)
        for page in pages:
            if role in page.home:
                return page.path
        return pages[0].path if pages else "/ui/password"

    def install(self, app: web.Application) -> None:
        for page in self.pages:
            app.router.add_get(page.path, self.handler(page))

    def handler(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            viewer = await viewer_or_redirect(request)
            if viewer.role not in page.roles:
                return await render_error(
                    request, viewer, 403, N_("Not allowed"), N_("Your role may not open this page.")
                )
            context = dict(await page.context(request, viewer))
            return await render(request, viewer, page.template, context)

        return handle


REGISTRY: web.AppKey[PageRegistry] = web.AppKey("dashboards_pages", PageRegistry)


async def preference(request: web.Request, user_id: int) -> str | None:
    async with request.app[DATABASE].session() as session:
        pref: str | None = await session.scalar(
            select(UserPreference.locale).where(UserPreference.user_id == user_id)
        )
        return pref


def request_locale(request: web.Request, saved: str | None = None) -> str:
    return i18n.choose(
        saved, request.cookies.get(i18n.COOKIE), request.headers.get("Accept-Language")
    )


InterfaceLookup = Callable[[int], Awaitable[str | None]]
INTERFACE: web.AppKey[InterfaceLookup] = web.AppKey("dashboards_interface", object)  # type: ignore[arg-type]


async def viewer_of(request: web.Request) -> Viewer | None:
    principal = auth.principal_of(request)
    if principal is None:
        return None
    async with request.app[DATABASE].session() as session:
        row = (
            await session.execute(
                select(User.display_name, UserPreference.locale)
                .outerjoin(UserPreference, UserPreference.user_id == User.id)
                .where(User.id == principal.user_id)
            )
        ).one_or_none()
    display, saved = (row[0], row[1]) if row is not None else (principal.username, None)
    interface = None
    lookup = request.app.get(INTERFACE)
    if lookup is not None and principal.role in STAFF:
        interface = await lookup(principal.user_id)
    return Viewer(
        principal, display or principal.username, request_locale(request, saved), interface
    )


async def viewer_or_redirect(request: web.Request) -> Viewer:
    viewer = await viewer_of(request)
    if viewer is None:
        target = request.path_qs
        raise web.HTTPFound(f"/login?next={quote(target, safe='/?=&')}")
    return viewer


def base_context(request: web.Request, viewer: Viewer | None, locale: str) -> dict[str, Any]:
    gettext = i18n.translations(locale).gettext
    registry = request.app.get(REGISTRY)
    nav: list[dict[str, str]] = []
    if viewer is not None and registry is not None:
        nav = [{"path": p.path, "label": gettext(p.label)} for p in registry.nav_for(viewer.role)]
    return {
        "user": ({"display_name": viewer.display_name, "role": viewer.role} if viewer else None),
        "role_label": gettext(ROLE_LABELS.get(viewer.role, viewer.role)) if viewer else "",
        "interface": viewer.interface if viewer else None,
        "nav": nav,
        "current": request.path,
        "kiosk": False,
        "script_texts": {text: gettext(text) for text in SCRIPT_TEXTS},
    }


async def render(
    request: web.Request,
    viewer: Viewer | None,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    locale: str | None = None,
) -> web.Response:
    locale = locale or (viewer.locale if viewer else request_locale(request))
    full = {**base_context(request, viewer, locale), **context}
    response = aiohttp_jinja2.render_template(
        template, request, full, app_key=ENV_KEYS[locale], status=status
    )
    response.headers["Content-Language"] = locale
    response.headers["Cache-Control"] = "no-store"
    return response


async def render_error(
    request: web.Request, viewer: Viewer | None, status: int, title: str, message: str
) -> web.Response:
    locale = viewer.locale if viewer else request_locale(request)
    gettext = i18n.translations(locale).gettext
    return await render(
        request,
        viewer,
        "error.html",
        {"title": gettext(title), "message": gettext(message)},
        status=status,
    )
