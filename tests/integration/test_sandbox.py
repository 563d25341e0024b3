"""The Asterisk sandbox: rendering, lifecycle, two instances at once, generated config."""

from __future__ import annotations

import argparse
import dataclasses
import socket
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.pbx.cli import register
from callcenter.pbx.sandbox import Sandbox, SandboxError, TemplateError, render_template

from .conftest import SandboxFactory


def test_render_fills_lowercase_placeholders_and_keeps_dialplan_variables() -> None:
    text = "bind = ${host}:${port}\nexten => _X.,1,Set(A=${EXTEN}$[1+1])\ncost = $$5\n"
    out = render_template("x.conf", text, {"host": "127.0.0.1", "port": "5060"})
    assert out == "bind = 127.0.0.1:5060\nexten => _X.,1,Set(A=${EXTEN}$[1+1])\ncost = $5\n"


def test_render_unknown_placeholder_names_file_and_key() -> None:
    with pytest.raises(TemplateError) as info:
        render_template("manager.conf", "port = ${ami_prot}\n", {"ami_port": "5038"})
    assert info.value.file == "manager.conf"
    assert info.value.key == "ami_prot"
    assert "manager.conf" in str(info.value)
    assert "ami_prot" in str(info.value)


def test_render_refuses_values_that_would_inject_config(pbx_config: Config, tmp_path: Path) -> None:
    bad = dataclasses.replace(pbx_config.pbx, ari_password="x\n[evil]", instance="injection")
    with pytest.raises(SandboxError, match="ari_password"):
        Sandbox(bad, tmp_path).render()


def test_sandbox_is_up_with_ami_and_ari(pbx: Sandbox, pbx_config: Config) -> None:
    st = pbx.status()
    assert st.running
    assert st.pid is not None
    assert st.version is not None and "Asterisk 22" in st.version
    with socket.create_connection((pbx_config.pbx.host, pbx_config.pbx.ami_port), 2) as sock:
        assert sock.recv(64).startswith(b"Asterisk Call Manager/")
    info = pbx.ari_info()
    assert "system" in info
    assert "0 active channels" in pbx.cli("core show channels")
    stamp = pbx.stamp()
    assert stamp is not None and stamp.asterisk_version.startswith("Asterisk 22")


def test_dialplan_and_queue_templates_loaded(pbx: Sandbox, pbx_config: Config) -> None:
    inbound = pbx.cli(f"dialplan show {pbx_config.pbx.inbound_context}")
    assert f"Stasis({pbx_config.pbx.ari_app},inbound)" in inbound
    # Without the app a call takes the tenant fallback routes (issue #8 defect 2), and a
    # number of no tenant waits in q-default.
    assert "Goto(cc-fallback,${CC_DID},1)" in inbound
    assert "Goto(cc-queue,q-default,1)" in pbx.cli("dialplan show cc-fallback")
    assert "Queue(${EXTEN},,,,${CC_QUEUE_TIMEOUT})" in pbx.cli("dialplan show cc-queue")
    assert "q-default" in pbx.cli("queue show q-default")
    assert "cc-tones" in pbx.cli("moh show files")


def test_generated_queue_config_is_included_after_reload(pbx: Sandbox) -> None:
    pbx.write_generated(
        "queues-sbtest.conf", "[q-generated](cc-queue-defaults)\nstrategy = linear\n"
    )
    try:
        pbx.reload("app_queue")
        assert "q-generated" in pbx.cli("queue show q-generated")
    finally:
        assert pbx.remove_generated("queues-sbtest.conf")
        pbx.reload("app_queue")
    assert "No such queue" in pbx.cli("queue show q-generated")


def test_generated_file_name_must_be_plain(pbx: Sandbox) -> None:
    with pytest.raises(SandboxError, match="generated file name"):
        pbx.write_generated("../etc/manager.conf", "")


def test_two_instances_run_at_once(
    pbx: Sandbox, pbx_factory: SandboxFactory, pbx_config: Config
) -> None:
    other = pbx_factory()
    st = other.up()
    assert st.running and st.pid != pbx.status().pid
    assert pbx.running()
    assert other.ari_info()["system"] is not None
    assert pbx.ari_info()["system"] is not None
    assert other.instance_dir != pbx.instance_dir
    assert other.down()
    assert not other.running()
    assert pbx.running()


def test_kill_then_start_again(pbx_factory: SandboxFactory) -> None:
    sandbox = pbx_factory()
    sandbox.up()
    old = sandbox.read_pid()
    sandbox.kill()
    assert not sandbox.running()
    assert sandbox.pid_file.exists()  # stale pid file left behind, as after a real crash
    with pytest.raises(SandboxError, match="not running"):
        sandbox.cli("core show uptime")
    st = sandbox.up()
    assert st.running and st.pid != old
    assert "uptime" in sandbox.cli("core show uptime").lower()


def test_port_in_use_is_reported(pbx: Sandbox, pbx_factory: SandboxFactory) -> None:
    clash = pbx_factory()
    clash.config = dataclasses.replace(clash.config, http_port=pbx.config.http_port)
    with pytest.raises(SandboxError, match=r"http_port .* already in use"):
        clash.up()
    assert not clash.running()


def test_sip_port_held_by_another_program_is_reported(pbx_factory: SandboxFactory) -> None:
    """An orphaned Asterisk holding the SIP port once answered a later carrier's OPTIONS
    and INVITEs (a trunk that never went down): now the start says so and does not run."""
    clash = pbx_factory()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((clash.config.host, clash.config.sip_port))
        with pytest.raises(SandboxError, match=r"sip_port .* already in use"):
            clash.up()
    assert not clash.running()


def test_up_is_idempotent(pbx: Sandbox) -> None:
    pid = pbx.read_pid()
    assert pbx.up().pid == pid


def test_cli_commands_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="callcenter")
    register(parser.add_subparsers())
    for words in (["pbx"], ["pbx", "up"], ["pbx", "down"], ["pbx", "status"], ["pbx", "cli"]):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([*words, "--help"])
        assert info.value.code == 0
    out = capsys.readouterr().out
    for action in ("up", "down", "status", "cli"):
        assert f"usage: callcenter pbx {action}" in out


def test_cli_status_and_command(
    pbx: Sandbox, pbx_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="callcenter")
    register(parser.add_subparsers())
    args = parser.parse_args(["pbx", "status"])
    assert args.func(pbx_config, args) == 0
    assert "running:  yes" in capsys.readouterr().out
    args = parser.parse_args(["pbx", "cli", "core", "show", "version"])
    assert args.func(pbx_config, args) == 0
    assert "Asterisk 22" in capsys.readouterr().out
    stopped = dataclasses.replace(
        pbx_config, pbx=dataclasses.replace(pbx_config.pbx, instance="never_started")
    )
    args = parser.parse_args(["pbx", "cli", "core", "show", "version"])
    assert args.func(stopped, args) == 1
    assert "not running" in capsys.readouterr().err


def test_build_without_debootstrap_is_a_clear_error(
    pbx_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = dataclasses.replace(pbx_config.pbx, root=tmp_path / "root")
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(SandboxError, match="debootstrap is not installed"):
        Sandbox(cfg, tmp_path).ensure_root()


def test_build_refuses_a_foreign_directory(
    pbx_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    cfg = dataclasses.replace(pbx_config.pbx, root=root)
    monkeypatch.setattr("shutil.which", lambda name: "/usr/sbin/debootstrap")
    with pytest.raises(SandboxError, match="holds no usr/sbin/asterisk"):
        Sandbox(cfg, tmp_path).ensure_root()


def test_export_renders_a_self_contained_instance(pbx_config: Config, tmp_path: Path) -> None:
    """`callcenter pbx render --to DIR` (docker-compose): every path points into DIR."""
    target = tmp_path / "instance"
    written = Sandbox(pbx_config.pbx, pbx_config.app.data_dir).export(target)
    names = {p.name for p in written}
    assert {"asterisk.conf", "manager.conf", "extensions.conf", "queues.conf"} <= names
    conf = (target / "etc" / "asterisk.conf").read_text()
    assert f"astetcdir => {target.resolve()}/etc" in conf
    assert f"astspooldir => {target.resolve()}/spool" in conf
    assert (target / "moh" / "cc-tones.wav").stat().st_size > 1000
    manager = (target / "etc" / "manager.conf").read_text()
    assert pbx_config.pbx.ami_secret in manager and "${" not in manager.replace("${EXTEN}", "")
