"""Jinja environments (one per UI language) and the fragments the live hub pushes.

One :class:`jinja2.Environment` per locale, each with ``jinja2.ext.i18n`` bound to that
language's babel catalogue, registered with aiohttp-jinja2 under its own app key so page
handlers render through ``aiohttp_jinja2.render_template(..., app_key=...)``. The hub
renders the same partial templates as the pages, so a pushed card is the card a reload
shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from dashboards import i18n
from dashboards.views import (
    AgentRow,
    CallCard,
    CallFlags,
    TenantInfo,
    Thresholds,
    Tile,
    agent_row,
    agent_state,
    call_card,
    element_id,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
ENV_KEYS: dict[str, web.AppKey[jinja2.Environment]] = {
    locale: web.AppKey(f"dashboards_jinja_{locale}", jinja2.Environment) for locale in i18n.LOCALES
}
ASSET_VERSION = "6"  # bump when static files change: URLs carry it, so caches may keep them


def _configure(env: jinja2.Environment, locale: str) -> jinja2.Environment:
    env.install_gettext_translations(  # type: ignore[attr-defined]  # added by the i18n ext
        i18n.translations(locale), newstyle=True
    )
    env.filters.update(i18n.filters(locale))
    env.filters["duration"] = i18n.duration
    env.globals.update(
        locale=locale, locales=i18n.LOCALES, asset_version=ASSET_VERSION, elem_id=element_id
    )
    return env


_OPTIONS: dict[str, Any] = {
    "autoescape": jinja2.select_autoescape(["html"]),
    "extensions": ["jinja2.ext.i18n"],
    "trim_blocks": True,
    "lstrip_blocks": True,
    "auto_reload": False,
}


def make_environment(locale: str, extra_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """The environment of one UI language (our templates first, then other features')."""
    loader = jinja2.FileSystemLoader([str(TEMPLATES), *(str(d) for d in extra_dirs)])
    return _configure(jinja2.Environment(loader=loader, **_OPTIONS), locale)


def install_environments(
    app: web.Application, extra_dirs: Sequence[Path] = ()
) -> dict[str, jinja2.Environment]:
    """One environment per locale under :data:`ENV_KEYS`, where aiohttp-jinja2's
    ``render_template(..., app_key=...)`` finds it."""
    envs = {locale: make_environment(locale, extra_dirs) for locale in i18n.LOCALES}
    for locale, env in envs.items():
        app[ENV_KEYS[locale]] = env
    return envs


NO_FLAGS = CallFlags()
TenantLookup = Callable[[str | None], TenantInfo | None]


class Fragments:
    """Renders the pieces of the console and wallboard for each locale."""

    def __init__(
        self,
        envs: Mapping[str, jinja2.Environment],
        tenants: TenantLookup,
        thresholds: Callable[[str], Thresholds],
    ) -> None:
        self.envs = envs
        self.tenants = tenants
        self.thresholds = thresholds
        self._templates = {
            (locale, name): env.get_template(f"parts/{name}.html")
            for locale, env in envs.items()
            for name in ("call_card", "tile", "agent_row", "me_state", "abandoned")
        }

    def _render(self, locale: str, name: str, **context: Any) -> str:
        return self._templates[(locale, name)].render(**context)

    def card(self, view: Mapping[str, Any], flags: CallFlags = NO_FLAGS) -> CallCard | None:
        return call_card(view, self.tenants(view.get("tenant")), flags)

    def call_html(self, locale: str, card: CallCard) -> str:
        return self._render(locale, "call_card", card=card)

    def tile_html(self, locale: str, tile: Tile) -> str:
        return self._render(locale, "tile", tile=tile)

    def agent_html(self, locale: str, row: AgentRow, phone: bool | None = None) -> str:
        return self._render(locale, "agent_row", row=row, phone=phone)

    def agent_row(self, view: Mapping[str, Any]) -> AgentRow:
        return agent_row(view)

    def me_html(
        self,
        locale: str,
        view: Mapping[str, Any] | None,
        reasons: tuple[str, ...],
        wrapup_seconds: float = 0,
        phone: bool | None = None,
    ) -> str:
        state = agent_state(view) if view is not None else "logged_out"
        until = None
        if state == "wrapup" and wrapup_seconds > 0 and view is not None:
            until = float(view.get("since") or 0) + wrapup_seconds
        return self._render(
            locale,
            "me_state",
            view=view,
            state=state,
            reasons=reasons,
            wrapup_until=until,
            phone=phone,
        )

    def abandoned_html(self, locale: str, items: list[Mapping[str, Any]]) -> str:
        return self._render(locale, "abandoned", items=items)
