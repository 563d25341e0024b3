"""Announcements as Asterisk media in the caller's language, and text renderings via babel.

Only prompts present in both the German and the English sound sets of the PBX root are
used (``queue-minutes`` exists in English only, so minutes are said with ``minutes``).
Spoken numbers go through ``number:`` so that Asterisk says them in the playback language.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

LOCALES = {"de": "de_DE", "en": "en_GB"}

POSITION_PROMPTS = (
    "queue-youarenext",
    "queue-thereare",
    "queue-callswaiting",
    "queue-holdtime",
    "queue-seconds",
    "minutes",
    "queue-thankyou",
)
_DE_STYLE_TIME = ("digits/at", "digits/oclock")
_EN_STYLE_TIME = ("digits/at", "digits/oclock", "digits/oh", "digits/a-m", "digits/p-m")
_DAY_WORDS = ("digits/today", "digits/tomorrow")


def position_media(position: int, callers_ahead_wait_s: float | None) -> list[str]:
    """ "You are next" or "there are N calls waiting", then the estimated wait if known.

    ``position`` is 1-based (1 = next to be answered). The wait is rounded up to whole
    minutes, or to 10 s steps under a minute, the way callers expect to hear it.
    """
    if position < 1:
        raise ValueError(f"queue position must be at least 1, got {position}")
    media = (
        ["sound:queue-youarenext"]
        if position == 1
        else [
            "sound:queue-thereare",
            f"number:{position - 1}",
            "sound:queue-callswaiting",
        ]
    )
    if callers_ahead_wait_s is not None and callers_ahead_wait_s > 0:
        media.append("sound:queue-holdtime")
        if callers_ahead_wait_s < 60:
            media += [
                f"number:{max(10, -(-int(callers_ahead_wait_s) // 10) * 10)}",
                "sound:queue-seconds",
            ]
        else:
            media += [f"number:{-(-int(callers_ahead_wait_s) // 60)}", "sound:minutes"]
    media.append("sound:queue-thankyou")
    return media


def estimated_wait(position: int, average_handle_s: float, agents_available: int) -> float:
    """Rough wait for the caller at ``position``: callers ahead × AHT ÷ serving agents."""
    serving = max(1, agents_available)
    return max(0, position - 1) * average_handle_s / serving + (
        0.0 if agents_available else average_handle_s
    )


def next_opening_prompts(language: str) -> tuple[str, ...]:
    """Sound names :func:`next_opening_media` may use in ``language`` (checked at load)."""
    days = tuple(f"digits/day-{i}" for i in range(7)) + tuple(f"digits/mon-{i}" for i in range(12))
    style = _EN_STYLE_TIME if language == "en" else _DE_STYLE_TIME
    return days + _DAY_WORDS + style


def next_opening_media(
    opening_utc: datetime, now_utc: datetime, zone: ZoneInfo, language: str
) -> list[str]:
    """When the tenant opens again, as media: "today/tomorrow/Monday [7 March] at 8:30".

    Days: today, tomorrow, the weekday name within a week, else weekday plus day and month.
    Times: German style (``um 8 Uhr 30``) for every language but English, which gets the
    12-hour clock (``at 8 30 a.m.``, ``at 9 oh 5 p.m.``).
    """
    local = opening_utc.astimezone(zone)
    today = now_utc.astimezone(zone).date()
    return _day_media(local.date(), today) + _time_media(local.hour, local.minute, language)


def _day_media(day: date, today: date) -> list[str]:
    delta = (day - today).days
    if delta == 0:
        return ["sound:digits/today"]
    if delta == 1:
        return ["sound:digits/tomorrow"]
    weekday = f"sound:digits/day-{(day.weekday() + 1) % 7}"  # Asterisk: day-0 is Sunday
    if delta < 7:
        return [weekday]
    return [weekday, f"number:{day.day}", f"sound:digits/mon-{day.month - 1}"]


def _time_media(hour: int, minute: int, language: str) -> list[str]:
    if language != "en":
        media = ["sound:digits/at", f"number:{hour}", "sound:digits/oclock"]
        return media + ([f"number:{minute}"] if minute else [])
    media = ["sound:digits/at", f"number:{hour % 12 or 12}"]
    if minute == 0:
        media.append("sound:digits/oclock")
    elif minute < 10:
        media += ["sound:digits/oh", f"number:{minute}"]
    else:
        media.append(f"number:{minute}")
    return [*media, "sound:digits/a-m" if hour < 12 else "sound:digits/p-m"]


def locale_for(language: str) -> str:
    return LOCALES.get(language, language)


def describe_opening(opening_utc: datetime, zone: ZoneInfo, language: str) -> str:
    """Text for receptionists and e-mails: ``Montag, 30. November 2026, 08:30``."""
    locale = locale_for(language)
    local = opening_utc.astimezone(zone)
    return f"{format_date(local, 'full', locale=locale)}, " + format_time(
        local, "short", tzinfo=zone, locale=locale
    )
