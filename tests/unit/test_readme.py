"""The README's commands and file names match what the code does (issue #8, defect 13)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from composition import cli, demo

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_demo_logins_file_named_as_written() -> None:
    names = set(re.findall(r"var/(demo-logins\.\w+)", README))
    source = Path(demo.__file__).read_text(encoding="utf-8")
    assert names and all(f'"{name}"' in source for name in names), names


def test_commands_in_prose_are_run_from_the_venv() -> None:
    """``callcenter`` is not on PATH after ``make setup``: the README says where it is."""
    assert ".venv/bin/callcenter" in README
    set_up = README.split("## Commands")[0]
    bare = re.findall(r"(?<![/\w])`callcenter [a-z]", set_up)
    assert not bare, f"set-up text names `callcenter …` without .venv/bin: {bare}"


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_in_the_table_exists() -> None:
    """Each ``callcenter NAME a/b/c`` row of the README's command table is a real command
    with those actions (a newcomer copies them verbatim)."""
    commands = _choices(cli.build_parser())
    rows = re.findall(r"^\| `callcenter ([a-z]+)(?: ([a-z/]+))?`", README, flags=re.MULTILINE)
    assert len(rows) >= 10, rows
    for name, actions in rows:
        assert name in commands, f"README names `callcenter {name}`, which does not exist"
        known = _choices(commands[name])
        for action in filter(None, actions.split("/")):
            assert action in known, f"`callcenter {name} {action}` does not exist: {sorted(known)}"
