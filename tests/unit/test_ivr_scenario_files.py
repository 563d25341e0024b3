"""Scenario files (config/scenarios): every shipped file parses; faults name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.pbx.simulate import Dtmf, Play, ScenarioError, Wait, load_scenario_file

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "config" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_parse(path: Path) -> None:
    loaded = load_scenario_file(path)
    assert loaded.scenario.did.startswith("+")
    assert loaded.at is not None and loaded.expect["handoff"] in ("queue", "voicemail", "callback")


def test_steps_and_caller(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'did = "+49 89 1"\ncaller = "Anna <+49 30 1>"\n'
        'steps = [{wait = 1.5}, {dtmf = "12#"}, {play = "hello-world"}]\n'
    )
    loaded = load_scenario_file(path)
    assert (loaded.scenario.did, loaded.scenario.caller_number, loaded.scenario.caller_name) == (
        "+49891",
        "+49301",
        "Anna",
    )
    assert loaded.scenario.steps == (Wait(1.5), Dtmf("12#"), Play("hello-world"))


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('caller = "+49"', "did: required"),
        ('did = "+49"\nsteps = [{wait = "x"}]', "steps.0: wait = 'x'"),
        ('did = "+49"\nsteps = [{dtmf = "1", wait = 2}]', "steps.0: one of"),
        ('did = "+49"\nsteps = [{dtmf = "1;x"}]', "dtmf: digits must be"),
        ('did = "+49"\nat = 2026-11-30T09:00:00', "at: an offset date-time"),
        ('did = "+49"\ncolour = "red"', "unknown key(s) colour"),
        ('did = "+49', "not valid TOML"),
    ],
)
def test_faults_name_file_and_key(tmp_path: Path, text: str, fault: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario_file(path)
    assert str(path) in str(info.value) and fault in str(info.value)
