"""``callcenter tenants check|placeholders`` through the feature's own parser."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from callcenter.config import load_config
from ivr import cli

REPO_TENANTS = Path(__file__).resolve().parents[2] / "config" / "tenants"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    config = load_config(None, env={})
    result: int = args.func(config, args)
    return result


def test_placeholders_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recordings = str(tmp_path / "rec")
    common = ["--dir", str(REPO_TENANTS), "--recordings", recordings]
    assert run(["tenants", "check", *common]) == 1
    assert "prompt 'rec:main-menu' missing in language 'de'" in capsys.readouterr().err
    assert run(["tenants", "placeholders", *common]) == 0
    assert "synthetic:" in capsys.readouterr().out
    assert run(["tenants", "check", *common]) == 0
    out = capsys.readouterr().out
    assert "ok: mueller" in out and "ok: harbour-legal" in out


def test_check_reports_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "tenants"
    shutil.copytree(REPO_TENANTS, directory)
    path = directory / "harbour.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('fri = ["09:00-16:00"]', 'fri = ["09:00-16:60"]')
    )
    assert (
        run(["tenants", "check", "--dir", str(directory), "--recordings", str(tmp_path / "rec")])
        == 1
    )
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("fri =")
    )
    # file:line as compilers print it (issue #8, defect 13: the README promises locations)
    assert f"{path}:{line}: hours.fri.0: time '16:60' out of range" in capsys.readouterr().err
    # One file given on the command line: checked alone, same location.
    recordings = str(tmp_path / "rec")
    assert run(["tenants", "check", "--recordings", recordings, str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{line}: hours.fri.0" in err and "mueller" not in err


def test_missing_recordings_point_to_placeholders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dir", str(REPO_TENANTS), "--recordings", str(tmp_path / "rec")]
    assert run(["tenants", "check", *common]) == 1
    assert "`callcenter tenants placeholders` creates" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "load"])
def test_missing_or_empty_directory_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Issue #8, defect 13: exit 1 (``load`` would otherwise deactivate every tenant)."""
    assert run(["tenants", command, "--dir", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run(["tenants", command, "--dir", str(tmp_path / "empty")]) == 1
    assert "no tenant files (*.toml)" in capsys.readouterr().err


def test_voicemail_prints_the_mailboxes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recordings = str(tmp_path / "rec")
    common = ["--dir", str(REPO_TENANTS), "--recordings", recordings]
    assert run(["tenants", "placeholders", *common]) == 0
    capsys.readouterr()
    assert run(["tenants", "voicemail", *common]) == 0
    out = capsys.readouterr().out
    assert "[mueller]\nmueller => ,Müller GmbH\n" in out
    assert "[harbour-legal]\nharbour-legal => ,Harbour Legal LLP\nharbour => ," in out
