from pathlib import Path

import pytest

from callcenter.config import ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "config" / "callcenter.example.toml"


def test_example_config_loads() -> None:
    cfg = load_config(EXAMPLE, env={})
    assert cfg.pbx.ami_port == 5038
    assert cfg.database_url.startswith("sqlite+aiosqlite:///")


def test_env_overrides_file(tmp_path: Path) -> None:
    cfg = load_config(
        EXAMPLE, env={"CALLCENTER__PBX__AMI_PORT": "6038", "CALLCENTER__APP__DEMO": "yes"}
    )
    assert cfg.pbx.ami_port == 6038
    assert cfg.app.demo is True


@pytest.mark.parametrize(
    ("toml", "env", "key", "fragment"),
    [
        ("[pbx]\nami_port = 'x'\n", {}, "pbx.ami_port", "expected an integer"),
        ("[pbx]\nami_port = 70000\n", {}, "pbx.ami_port", "1-65535"),
        ("[pbx]\nnope = 1\n", {}, "pbx.nope", "unknown key"),
        ("[bogus]\na = 1\n", {}, "bogus", "unknown section"),
        ("[app]\nlog_level = 'loud'\n", {}, "app.log_level", "must be one of"),
        ("[database]\nurl = 'mysql://x'\n", {}, "database.url", "must start with"),
        ("", {"CALLCENTER__PBX__PING_TIMEOUT": "soon"}, "pbx.ping_timeout", "expected a number"),
        ("", {"CALLCENTER__PBX": "x"}, "CALLCENTER__PBX", "SECTION__KEY"),
        ("[app]\ndemo = 3\n", {}, "app.demo", "true/false"),
        ("app = 1\n", {}, "app", "expected a [table]"),
        ("[app\n", {}, "<file>", "invalid TOML"),
    ],
)
def test_bad_values_name_key_and_reason(
    tmp_path: Path, toml: str, env: dict[str, str], key: str, fragment: str
) -> None:
    path = tmp_path / "cc.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert info.value.key == key
    assert fragment in str(info.value)


def test_env_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment CALLCENTER__PBX__AMI_PORT"):
        load_config(None, env={"CALLCENTER__PBX__AMI_PORT": "abc"})


def test_secrets_generated_once_and_private(tmp_path: Path) -> None:
    cfg = load_config(None, env={}, overrides={"app": {"data_dir": str(tmp_path)}})
    first = cfg.with_secrets()
    second = cfg.with_secrets()
    assert first.pbx.ami_secret and first.pbx.ami_secret == second.pbx.ami_secret
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
