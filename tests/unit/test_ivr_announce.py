"""Announcements: queue position/wait and next opening as Asterisk media, babel text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.announce import (
    POSITION_PROMPTS,
    describe_opening,
    estimated_wait,
    next_opening_media,
    next_opening_prompts,
    position_media,
)
from ivr.prompts import PromptInventory

BERLIN = ZoneInfo("Europe/Berlin")
PBX_ROOT = Path("/var/cache/callcenter/pbx-root")


@pytest.mark.parametrize(
    ("position", "wait", "expected"),
    [
        (1, None, ["sound:queue-youarenext", "sound:queue-thankyou"]),
        (
            3,
            None,
            [
                "sound:queue-thereare",
                "number:2",
                "sound:queue-callswaiting",
                "sound:queue-thankyou",
            ],
        ),
        (
            2,
            0.0,
            [
                "sound:queue-thereare",
                "number:1",
                "sound:queue-callswaiting",
                "sound:queue-thankyou",
            ],
        ),
        (
            1,
            4.0,
            [
                "sound:queue-youarenext",
                "sound:queue-holdtime",
                "number:10",
                "sound:queue-seconds",
                "sound:queue-thankyou",
            ],
        ),
        (
            1,
            41.0,
            [
                "sound:queue-youarenext",
                "sound:queue-holdtime",
                "number:50",
                "sound:queue-seconds",
                "sound:queue-thankyou",
            ],
        ),
        (
            5,
            60.0,
            [
                "sound:queue-thereare",
                "number:4",
                "sound:queue-callswaiting",
                "sound:queue-holdtime",
                "number:1",
                "sound:minutes",
                "sound:queue-thankyou",
            ],
        ),
        (
            5,
            61.0,
            [
                "sound:queue-thereare",
                "number:4",
                "sound:queue-callswaiting",
                "sound:queue-holdtime",
                "number:2",
                "sound:minutes",
                "sound:queue-thankyou",
            ],
        ),
    ],
)
def test_position_media(position: int, wait: float | None, expected: list[str]) -> None:
    assert position_media(position, wait) == expected


def test_position_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        position_media(0, None)


@pytest.mark.parametrize(
    ("position", "aht", "available", "expected"),
    [(1, 120.0, 1, 0.0), (3, 120.0, 2, 120.0), (3, 120.0, 0, 360.0), (1, 90.0, 0, 90.0)],
)
def test_estimated_wait(position: int, aht: float, available: int, expected: float) -> None:
    assert estimated_wait(position, aht, available) == expected


NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 19:00 in Berlin


@pytest.mark.parametrize(
    ("opening", "language", "expected"),
    [
        (
            datetime(2026, 11, 27, 19, 30, tzinfo=UTC),
            "de",
            [
                "sound:digits/today",
                "sound:digits/at",
                "number:20",
                "sound:digits/oclock",
                "number:30",
            ],
        ),
        (
            datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
            "de",
            ["sound:digits/tomorrow", "sound:digits/at", "number:8", "sound:digits/oclock"],
        ),
        (
            datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
            "de",
            ["sound:digits/day-1", "sound:digits/at", "number:8", "sound:digits/oclock"],
        ),
        (
            datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
            "en",
            [
                "sound:digits/day-1",
                "sound:digits/at",
                "number:8",
                "sound:digits/oclock",
                "sound:digits/a-m",
            ],
        ),
        (
            datetime(2026, 11, 30, 12, 30, tzinfo=UTC),
            "en",
            ["sound:digits/day-1", "sound:digits/at", "number:1", "number:30", "sound:digits/p-m"],
        ),
        (
            datetime(2026, 11, 30, 11, 5, tzinfo=UTC),
            "en",
            [
                "sound:digits/day-1",
                "sound:digits/at",
                "number:12",
                "sound:digits/oh",
                "number:5",
                "sound:digits/p-m",
            ],
        ),
        # More than a week ahead: weekday, day of month and month (Asterisk mon-0 = January).
        (
            datetime(2027, 1, 4, 7, 0, tzinfo=UTC),
            "de",
            [
                "sound:digits/day-1",
                "number:4",
                "sound:digits/mon-0",
                "sound:digits/at",
                "number:8",
                "sound:digits/oclock",
            ],
        ),
    ],
)
def test_next_opening_media(opening: datetime, language: str, expected: list[str]) -> None:
    assert next_opening_media(opening, NOW, BERLIN, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Montag, 30. November 2026, 08:00"), ("en", "Monday, 30 November 2026, 08:00")],
)
def test_describe_opening_with_babel(language: str, expected: str) -> None:
    assert describe_opening(datetime(2026, 11, 30, 7, 0, tzinfo=UTC), BERLIN, language) == expected


@pytest.mark.parametrize("language", ["de", "en"])
def test_announcement_sounds_exist_in_the_real_pbx_root(language: str) -> None:
    """Every sound the announcements use exists in the PBX root's set for the language,
    so Asterisk never falls back to English in the middle of a German announcement."""
    inventory = PromptInventory.scan(
        PBX_ROOT / "usr/share/asterisk/sounds", [language], pbx_root=PBX_ROOT
    )
    needed = (*POSITION_PROMPTS, *next_opening_prompts(language))
    assert inventory.missing(needed, [language]) == []


def test_queue_minutes_is_english_only_so_it_is_not_used() -> None:
    inventory = PromptInventory.scan(
        PBX_ROOT / "usr/share/asterisk/sounds", ["de", "en"], pbx_root=PBX_ROOT
    )
    assert inventory.missing(["queue-minutes"], ["de", "en"]) == [("queue-minutes", "de")]
    assert "queue-minutes" not in POSITION_PROMPTS
