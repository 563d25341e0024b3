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
        ("[database]\nsessions_at_once = 0\n", {}, "database.sessions_at_once", "between 1"),
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


def test_smtp_defaults_off_and_env_supplies_the_password(tmp_path: Path) -> None:
    assert load_config(EXAMPLE, env={}).smtp.host == ""  # no mail server unless configured
    path = tmp_path / "cc.toml"
    path.write_text(
        "[smtp]\nhost = 'mail.example.org'\nport = 465\nusername = 'cc@example.org'\n"
        "sender = 'sekretariat@example.org'\nsecurity = 'ssl'\ntimeout = 5\n"
    )
    smtp = load_config(path, env={"CALLCENTER__SMTP__PASSWORD": "from-env"}).smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.timeout) == ("mail.example.org", 465,
                                                                   "ssl", 5.0)  # fmt: skip
    assert smtp.resolved_password() == "from-env"


def test_smtp_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp_password"
    secret.write_text("s3cret\n")
    env = {
        "CALLCENTER__SMTP__HOST": "127.0.0.1",
        "CALLCENTER__SMTP__USERNAME": "cc",
        "CALLCENTER__SMTP__PASSWORD_FILE": str(secret),
    }
    assert load_config(None, env=env).smtp.resolved_password() == "s3cret"
    env["CALLCENTER__SMTP__PASSWORD_FILE"] = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"smtp\.password_file.*cannot read"):
        load_config(None, env=env).smtp.resolved_password()


@pytest.mark.parametrize(
    ("toml", "key", "fragment"),
    [
        ("[smtp]\nport = 0\n", "smtp.port", "1-65535"),
        ("[smtp]\nsecurity = 'tls'\n", "smtp.security", "must be one of"),
        ("[smtp]\nhost = 'mail host'\n", "smtp.host", "without spaces"),
        ("[smtp]\nsender = 'nobody'\n", "smtp.sender", "e-mail address"),
        ('[smtp]\nsender = "a@b\\r\\nBcc: x@y"\n', "smtp.sender", "e-mail address"),
        ("[smtp]\ntimeout = 0\n", "smtp.timeout", "positive"),
        ("[smtp]\ntimeout = 'soon'\n", "smtp.timeout", "expected a number"),
        (
            "[smtp]\nusername = 'u'\npassword = 'p'\npassword_file = '/x'\n",
            "smtp.password",
            "either",
        ),
        ("[smtp]\npassword = 'p'\n", "smtp.username", "required"),
        ("[smtp]\nstarttls = true\n", "smtp.starttls", "unknown key"),
    ],
)
def test_bad_smtp_values_name_key_and_reason(
    tmp_path: Path, toml: str, key: str, fragment: str
) -> None:
    path = tmp_path / "cc.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == key
    assert fragment in str(info.value)
