"""The README's commands and file names match what the code does (issue #8, defect 13)."""

from __future__ import annotations

import re
from pathlib import Path

from composition import demo

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
