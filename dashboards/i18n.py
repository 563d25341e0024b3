"""UI languages: babel message catalogues, locale choice, locale-aware formatting.

Catalogues are the ``.po`` files under ``dashboards/locale`` (``pybabel extract/update``,
see ``scripts/i18n``); they are compiled in memory when the app starts, so no binary
``.mo`` file is kept in the repository and a clean checkout works as it is.

The language of a request: the user's saved preference, else the ``cc_lang`` cookie (set
by the language switch, also before login), else the browser's ``Accept-Language``, else
:data:`DEFAULT`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

LOCALES: tuple[str, ...] = ("de", "en")
DEFAULT = "en"
COOKIE = "cc_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of ``locale`` (English is the source language)."""
    path = catalogue_path(locale)
    if not path.exists():
        return Translations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def accepted(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, best first (q-values honoured)."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, i, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def choose(preference: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The UI language for a request (see the module docstring for the order)."""
    for candidate in (preference, cookie):
        if candidate in LOCALES:
            return candidate
    for tag in accepted(accept_language):
        primary = tag.split("-", 1)[0]
        if primary in LOCALES:
            return primary
    return DEFAULT


def filters(locale: str) -> dict[str, Callable[..., Any]]:
    """Jinja filters formatting numbers, percentages, times and durations for ``locale``."""
    loc = Locale.parse(locale)

    def number(value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=loc)

    def percent(value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=loc)

    def clock(value: float | None) -> str:
        if value is None:
            return "–"
        return format_time(datetime.fromtimestamp(value).astimezone(), "short", locale=loc)

    def when(value: datetime | None) -> str:
        return "–" if value is None else format_datetime(value, "short", locale=loc)

    return {"number": number, "percent": percent, "clock": clock, "when": when}


def duration(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``): the same in both languages, so no catalogue entry."""
    if seconds is None:
        return "–"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
