"""``callcenter pbx build|up|down|status|cli``: the Asterisk sandbox from the command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Config
from callcenter.pbx.sandbox import Sandbox, SandboxError


def register(subparsers: Any) -> None:
    """Add the ``pbx`` command and its sub-commands to the top-level parser."""
    pbx = subparsers.add_parser(
        "pbx",
        help="build, start, stop and query the Asterisk sandbox",
        description="A real Asterisk 22 in a cached Debian sid root (see pbx.* config keys).",
    )
    sub = pbx.add_subparsers(dest="pbx_command", required=True, metavar="ACTION")
    build = sub.add_parser(
        "build",
        help="build (debootstrap) or adopt the Debian root once and stamp it",
        description="Build the Debian sid root with Asterisk at pbx.root unless it exists.",
    )
    build.set_defaults(func=_build)
    up = sub.add_parser(
        "up",
        help="render the configuration, start Asterisk and wait until it is fully booted",
        description="Start this instance (pbx.instance); does nothing if it already runs.",
    )
    up.set_defaults(func=_up)
    down = sub.add_parser(
        "down",
        help="stop Asterisk (core stop now, then SIGTERM, then SIGKILL)",
        description="Stop this instance.",
    )
    down.set_defaults(func=_down)
    status = sub.add_parser(
        "status",
        help="show whether this instance runs, its pid, version and ports",
        description="Show the instance's state; exit status 0 if running, 3 if not.",
    )
    status.set_defaults(func=_status)
    render = sub.add_parser(
        "render",
        help="render the Asterisk configuration for an Asterisk outside the sandbox",
        description=(
            "Write a self-contained instance directory (etc/*.conf, moh/, spool …) for a "
            "container or host Asterisk; run it with `asterisk -f -C DIR/etc/asterisk.conf`. "
            "DIR must be mounted at the same path where Asterisk runs."
        ),
    )
    render.add_argument("--to", type=Path, required=True, metavar="DIR", help="target directory")
    render.set_defaults(func=_render)
    cli = sub.add_parser(
        "cli",
        help="run one Asterisk CLI command, e.g. `callcenter pbx cli core show channels`",
        description="Run one Asterisk CLI command on this instance and print its output.",
    )
    cli.add_argument("words", nargs="+", help="the CLI command, e.g. queue show q-default")
    cli.set_defaults(func=_cli)


def _sandbox(config: Config) -> Sandbox:
    config = config.with_secrets()
    return Sandbox(config.pbx, config.app.data_dir)


def _fail(exc: Exception) -> int:
    print(f"callcenter pbx: {exc}", file=sys.stderr)
    return 1


def _build(config: Config, args: argparse.Namespace) -> int:
    try:
        stamp = _sandbox(config).ensure_root()
    except (SandboxError, OSError) as exc:
        return _fail(exc)
    how = "adopted existing root" if stamp.adopted else "built root"
    print(f"{how} {config.pbx.root}: {stamp.asterisk_version}")
    return 0


def _render(config: Config, args: argparse.Namespace) -> int:
    try:
        written = _sandbox(config).export(args.to)
    except (SandboxError, OSError) as exc:
        return _fail(exc)
    print(f"rendered {len(written)} files into {args.to / 'etc'}")
    return 0


def _up(config: Config, args: argparse.Namespace) -> int:
    try:
        st = _sandbox(config).up()
    except (SandboxError, OSError, subprocess.SubprocessError) as exc:
        return _fail(exc)
    print(
        f"Asterisk instance {st.instance} running (pid {st.pid}): "
        f"AMI {config.pbx.host}:{st.ami_port}, ARI http://{config.pbx.host}:{st.http_port}/ari, "
        f"SIP udp {config.pbx.host}:{st.sip_port}; log {st.log_file}"
    )
    return 0


def _down(config: Config, args: argparse.Namespace) -> int:
    try:
        was = _sandbox(config).down()
    except (SandboxError, OSError) as exc:
        return _fail(exc)
    print(f"Asterisk instance {config.pbx.instance} {'stopped' if was else 'was not running'}")
    return 0


def _status(config: Config, args: argparse.Namespace) -> int:
    st = _sandbox(config).status()
    print(f"instance: {st.instance}")
    print(f"running:  {'yes' if st.running else 'no'}")
    if st.running:
        print(f"pid:      {st.pid}")
        print(f"version:  {st.version or 'unknown'}")
    print(f"ports:    AMI {st.ami_port}, HTTP/ARI {st.http_port}, SIP {st.sip_port}")
    print(f"root:     {st.root}")
    print(f"log:      {st.log_file}")
    return 0 if st.running else 3


def _cli(config: Config, args: argparse.Namespace) -> int:
    try:
        out = _sandbox(config).cli(" ".join(args.words))
    except (SandboxError, OSError, subprocess.SubprocessError) as exc:
        return _fail(exc)
    sys.stdout.write(out)
    return 0
