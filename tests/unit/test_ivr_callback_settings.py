"""``[callbacks]`` in tenant files: the settings and every fault with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.errors import ConfigFaults
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.tenancy import CallbackSettings, Interval
from ivr.testing import hm, write_sounds
from tests.unit.test_ivr_loader import COMMON_SOUNDS, VALID


@pytest.fixture
def sources(tmp_path: Path) -> PromptSources:
    english = [*COMMON_SOUNDS, "digits/oh", "digits/a-m", "digits/p-m"]
    sounds = write_sounds(tmp_path / "sounds", {"de": COMMON_SOUNDS, "en": english})
    recordings = write_sounds(
        tmp_path / "rec" / "acme", {"de": ["main", "closed"], "en": ["main", "closed"]}, "wav"
    )
    return PromptSources(sounds, recordings.parent)


GOOD = """
[callbacks]
enabled = true
offer_after = 90
mode = "agent_first"
max_attempts = 4
retry_after = { busy = 120, no_answer = 600 }
closing_margin = 30
hours = { mon = ["09:00-11:00"] }
max_age = 48
assign_fallback = 5
"""


def test_defaults_without_a_callbacks_table(sources: PromptSources) -> None:
    tenant = load_tenant_text(VALID, sources, "acme.toml").tenant
    assert tenant.callbacks == CallbackSettings()
    assert tenant.callbacks.enabled and tenant.callbacks.offer_after == 0


def test_settings_parse(sources: PromptSources) -> None:
    settings = load_tenant_text(VALID + GOOD, sources, "acme.toml").tenant.callbacks
    assert settings.enabled and settings.offer_after == 90 and settings.mode == "agent_first"
    assert settings.max_attempts == 4
    assert settings.retry_after == {
        "busy": 120,
        "no_answer": 600,
        "failed": 600,  # the default where none is given
        "machine": 1800,
    }
    assert settings.closing_margin == 1800  # minutes in the file, seconds inside
    assert settings.max_age == 48 * 3600  # hours in the file
    assert settings.assign_fallback == 300
    assert settings.hours is not None
    assert settings.hours[0] == (Interval(hm("09:00"), hm("11:00")),)
    assert settings.hours[1] == ()


def _faults(text: str, sources: PromptSources) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigFaults) as info:
        load_tenant_text(text, sources, "acme.toml")
    assert all(f.file == "acme.toml" for f in info.value.faults)
    return [(f.line, f.path, f.reason) for f in info.value.faults]


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("setting", "path", "reason"),
    [
        ("enabled = 1", "callbacks.enabled", "expected bool, got int 1"),
        ("offer_after = -5", "callbacks.offer_after", "-5: seconds must be 0..3600"),
        ("offer_after = 7200", "callbacks.offer_after", "7200: seconds must be 0..3600"),
        (
            'mode = "machine_first"',
            "callbacks.mode",
            "'machine_first': use one of agent_first, customer_first",
        ),
        ("max_attempts = 0", "callbacks.max_attempts", "0: dials in all must be 1..20"),
        ('max_attempts = "3"', "callbacks.max_attempts", "expected int, got str '3'"),
        (
            "retry_after = { busy = -1 }",
            "callbacks.retry_after.busy",
            "-1: seconds must be 0..604800",
        ),
        (
            "retry_after = { answered = 10 }",
            "callbacks.retry_after.answered",
            "unknown key (allowed: busy, failed, machine, no_answer)",
        ),
        ("closing_margin = 300", "callbacks.closing_margin", "300: minutes must be 0..240"),
        (
            'hours = { mon = ["11:00-09:00"] }',
            "callbacks.hours.mon.0",
            "interval '11:00-09:00' ends before it starts (split it at 24:00)",
        ),
        (
            'hours = { monday = ["09:00-11:00"] }',
            "callbacks.hours.monday",
            "unknown key (allowed: fri, mon, sat, sun, thu, tue, wed)",
        ),
        (
            "offer = 3",
            "callbacks.offer",
            "unknown key (allowed: assign_fallback, closing_margin, enabled, hours, "
            "max_age, max_attempts, mode, offer_after, retry_after)",
        ),
        ("max_age = 0", "callbacks.max_age", "0: hours must be 1..720"),
        ("max_age = 1000", "callbacks.max_age", "1000: hours must be 1..720"),
        ("assign_fallback = 0", "callbacks.assign_fallback", "0: minutes must be 1..1440"),
    ],
)
def test_each_fault_names_file_line_and_field(
    sources: PromptSources,
    setting: str,
    path: str,
    reason: str,
) -> None:
    text = VALID + "\n[callbacks]\nenabled = true\n" + setting + "\n"
    if setting.startswith("enabled"):
        text = VALID + "\n[callbacks]\n" + setting + "\n"
    assert _faults(text, sources) == [(_line(text, setting), path, reason)]


def test_all_faults_of_the_table_together_with_their_lines(
    sources: PromptSources,
) -> None:
    text = VALID + '\n[callbacks]\nmode = "x"\nmax_attempts = 99\n'
    mode, attempts = _line(text, 'mode = "x"'), _line(text, "max_attempts = 99")
    assert _faults(text, sources) == [
        (mode, "callbacks.mode", "'x': use one of agent_first, customer_first"),
        (attempts, "callbacks.max_attempts", "99: dials in all must be 1..20"),
    ]


def test_message_reads_file_line_field(sources: PromptSources) -> None:
    text = VALID + "\n[callbacks]\nmax_attempts = 0\n"
    with pytest.raises(ConfigFaults) as info:
        load_tenant_text(text, sources, "acme.toml")
    line = _line(text, "max_attempts = 0")
    assert f"acme.toml:{line}: callbacks.max_attempts: 0: dials in all must be 1..20" in str(
        info.value
    )


def test_disabled_callbacks_refuse_routes_to_a_callback(
    sources: PromptSources,
) -> None:
    text = (
        VALID.replace('"3" = "boss"', '"3" = "boss", "4" = "cb"').replace(
            'overflow = [{ when = "no_agents", action = "voicemail" }]',
            'overflow = [{ when = "no_agents", action = "callback" }]',
        )
        + '\n[flows.cb]\ntype = "callback"\n\n[callbacks]\nenabled = false\n'
    )
    why = "leads to a callback, but [callbacks] enabled = false"
    assert {(p, r) for _line, p, r in _faults(text, sources)} == {
        ("flows.cb.type", why),
        ("routing.queues.0.overflow.0.action", why),
    }
