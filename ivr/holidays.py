"""Public holidays by country and state, cached per year (``holidays`` package)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays as holidays_pkg

from ivr.tenancy import HolidayRule


@lru_cache(maxsize=256)
def _year(country: str, subdiv: str | None, year: int, language: str | None) -> dict[date, str]:
    table = holidays_pkg.country_holidays(country, subdiv=subdiv, years=year, language=language)
    return {day: str(name) for day, name in table.items()}


def holiday_name(rule: HolidayRule, day: date, language: str | None = None) -> str | None:
    """Name of the public holiday on ``day`` (English unless ``language`` is given), if any.

    Holidays listed in ``rule.open_on`` are ignored: the tenant opens on them.
    """
    english = _year(rule.country, rule.subdiv, day.year, None).get(day)
    if english is None or any(part.strip() in rule.open_on for part in english.split(";")):
        return None
    if language is None:
        return english
    return _year(rule.country, rule.subdiv, day.year, language).get(day, english)


def check_rule(country: str, subdiv: str | None) -> str | None:
    """Why ``country``/``subdiv`` cannot be used, or None if it can."""
    try:
        holidays_pkg.country_holidays(country, subdiv=subdiv, years=2026)
    except NotImplementedError:
        return f"unknown holiday country {country!r}"
    except (KeyError, ValueError) as exc:
        return f"unknown subdivision {subdiv!r} for {country}: {exc}"
    return None
