"""The PBX's control ports: AMI/ARI on loopback or private addresses only, AMI logins only
from the app's network with the classes it uses, secret-bearing files 0600, and a
docker-compose that publishes neither AMI nor ARI."""

from __future__ import annotations

import dataclasses
import re
import socket
from pathlib import Path

import pytest

from callcenter.config import Config, ConfigError, PbxConfig
from callcenter.pbx.sandbox import Sandbox

from .conftest import SandboxFactory

REPO = Path(__file__).resolve().parents[2]


def _ami_login(host: str, port: int, user: str, secret: str) -> str:
    with socket.create_connection((host, port), timeout=5.0) as sock:
        sock.settimeout(5.0)
        sock.recv(100)  # greeting
        sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_rendered_manager_user_is_narrowed_and_secrets_are_0600(
    pbx_config: Config, tmp_path: Path
) -> None:
    target = tmp_path / "instance"
    Sandbox(pbx_config.pbx, pbx_config.app.data_dir).export(target)
    manager = (target / "etc" / "manager.conf").read_text()
    user = manager.split(f"[{pbx_config.pbx.ami_username}]", 1)[1]
    assert "deny = 0.0.0.0/0.0.0.0" in user
    assert "permit = 127.0.0.1/255.255.255.255" in user
    classes = dict(re.findall(r"^(read|write) = (.+)$", user, re.M))
    for kind in ("read", "write"):
        granted = set(classes[kind].split(","))
        assert "all" not in granted and not granted & {"dtmf", "security", "log", "verbose"}
    for name in ("manager.conf", "ari.conf"):
        assert (target / "etc" / name).stat().st_mode & 0o777 == 0o600, name
    assert (target / "etc" / "extensions.conf").stat().st_mode & 0o077 != 0o077  # no secret


def test_ami_refuses_logins_from_outside_the_permitted_network(
    pbx_factory: SandboxFactory,
) -> None:
    """The real Asterisk: the right secret from 127.0.0.1 is refused when only 127.0.0.2 is
    permitted (the deny/permit pair is in force, not just written)."""
    other = pbx_factory()
    other.config = dataclasses.replace(other.config, ami_permit="127.0.0.2/32")
    other.up()
    c = other.config
    answer = _ami_login(c.host, c.ami_port, c.ami_username, c.ami_secret)
    assert "Response: Error" in answer and "Authentication failed" in answer
    other.down()
    other.config = dataclasses.replace(other.config, ami_permit="127.0.0.1/32")
    other.up()
    answer = _ami_login(c.host, c.ami_port, c.ami_username, c.ami_secret)
    assert "Response: Success" in answer
    other.down()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "8.8.8.8", "2001:4860::8888"])
def test_control_ports_never_on_wildcard_or_public_addresses(host: str) -> None:
    with pytest.raises(ConfigError, match=r"pbx\.host"):
        PbxConfig(host=host).validate()


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "fd00::5", "asterisk"])
def test_loopback_private_and_names_are_fine(host: str) -> None:
    PbxConfig(host=host).validate()
    with pytest.raises(ConfigError, match="ami_permit"):
        PbxConfig(ami_permit="everyone").validate()


def test_docker_compose_publishes_neither_ami_nor_ari() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert "0.0.0.0" not in text
    published = re.findall(r"^\s*ports:\s*\[(.*)\]", text, re.M)
    for line in published:
        for port in re.findall(r'"([^"]+)"', line):
            assert port.startswith("127.0.0.1:"), port  # nothing on every interface
            assert not port.endswith((":5038", ":8088")), port
    assert "CALLCENTER__PBX__HOST: 127.0.0.1" in text
