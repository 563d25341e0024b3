"""``callcenter tenants check|load|placeholders``: the declarative tenant files.

``check`` validates without touching the database (exit 1 and every fault with its location
if anything is wrong); ``load`` validates, stores in the database and tells running app
instances to reload; ``placeholders`` speaks missing tenant recordings with espeak-ng.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from callcenter.bus import make_bus
from callcenter.config import Config
from callcenter.db.session import Database
from ivr.errors import ConfigFaults
from ivr.loader import load_directory, load_files
from ivr.placeholders import generate_for_file
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry, reload_from_files
from ivr.voicemail import VoicemailConfigError, voicemail_conf


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tenants",
        help="check or load the tenant files (routing, hours, IVR flows)",
        description=__doc__,
    )
    sub = parser.add_subparsers(dest="tenants_command", required=True, metavar="ACTION")
    for name, func, text in (
        ("check", _check, "validate every tenant file; print faults and warnings"),
        ("load", _load, "validate, store in the database, notify running instances"),
        ("placeholders", _placeholders, "generate synthetic recordings for missing prompts"),
        (
            "voicemail",
            _voicemail,
            "print the tenants' app_voicemail mailboxes (for a PBX "
            "outside the sandbox: etc/generated/voicemail-tenants.conf)",
        ),
        (
            "fallback",
            _fallback,
            "print the dialplan's routes for calls the app does not take (for a PBX "
            "outside the sandbox: etc/generated/extensions-fallback.conf)",
        ),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="tenant files (default: tenants.directory from the config)",
        )
        cmd.add_argument(
            "--recordings",
            type=Path,
            default=None,
            help="tenant recordings root (default: <data_dir>/recordings)",
        )
        if name == "check":
            cmd.add_argument(
                "files",
                nargs="*",
                type=Path,
                metavar="FILE",
                help="check only these tenant files (default: every *.toml of the directory)",
            )
        cmd.set_defaults(func=func)


PLACEHOLDER_HINT = (
    "hint: tenant recordings are missing; `callcenter tenants placeholders` creates "
    "clearly marked synthetic stand-ins until real ones are recorded"
)


def _paths(config: Config, args: argparse.Namespace) -> tuple[Path, PromptSources]:
    directory = args.dir or config.tenants.directory
    recordings = args.recordings or config.app.data_dir / "recordings"
    return directory, PromptSources.for_pbx_root(config.pbx.root, recordings)


def _no_tenants(directory: Path) -> str | None:
    """Why ``directory`` cannot be a tenant directory (missing, or no ``*.toml``)."""
    if not directory.is_dir():
        return f"tenant directory {directory} does not exist (--dir or tenants.directory)"
    if not any(directory.glob("*.toml")):
        return f"no tenant files (*.toml) in {directory}"
    return None


def _faults(exc: ConfigFaults) -> int:
    print(exc, file=sys.stderr)
    if any("rec:" in f.reason and "missing" in f.reason for f in exc.faults):
        print(PLACEHOLDER_HINT, file=sys.stderr)
    return 1


def _check(config: Config, args: argparse.Namespace) -> int:
    directory, sources = _paths(config, args)
    files: list[Path] = list(getattr(args, "files", None) or [])
    problem = None if files else _no_tenants(directory)
    if problem:
        print(f"callcenter tenants check: {problem}", file=sys.stderr)
        return 1
    try:
        loaded = load_files(files, sources) if files else load_directory(directory, sources)
    except ConfigFaults as exc:
        return _faults(exc)
    for item in loaded:
        for warning in item.warnings:
            print(f"warning: {warning}")
        print(f"ok: {item.tenant.slug} ({item.tenant.source})")
    return 0


def _load(config: Config, args: argparse.Namespace) -> int:
    directory, sources = _paths(config, args)
    problem = _no_tenants(directory)
    if problem:  # loading "nothing" would deactivate every tenant
        print(f"callcenter tenants load: {problem}; nothing changed", file=sys.stderr)
        return 1

    async def run() -> int:
        db = Database(config.database_url)
        bus = make_bus(config.redis.url) if config.redis.url else None
        try:
            report = await reload_from_files(TenantRegistry(), db, directory, sources, bus)
        except ConfigFaults as exc:
            return _faults(exc)
        finally:
            await db.close()
            if bus is not None:
                await bus.close()
        for label, slugs in (
            ("created", report.created),
            ("changed", report.changed),
            ("unchanged", report.unchanged),
            ("deactivated", report.deactivated),
        ):
            if slugs:
                print(f"{label}: {', '.join(slugs)}")
        return 0

    return asyncio.run(run())


def _placeholders(config: Config, args: argparse.Namespace) -> int:
    directory, sources = _paths(config, args)
    try:
        for path in sorted(directory.glob("*.toml")):
            for written in generate_for_file(path, sources.recordings_root):
                print(f"synthetic: {written}")
    except (ConfigFaults, FileNotFoundError) as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    return 0


def _voicemail(config: Config, args: argparse.Namespace) -> int:
    directory, sources = _paths(config, args)
    try:
        tenants = [item.tenant for item in load_directory(directory, sources)]
        print(voicemail_conf(tenants), end="")
    except (ConfigFaults, VoicemailConfigError) as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    return 0


def _fallback(config: Config, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ivr.fallback import fallback_dialplan

    directory, sources = _paths(config, args)
    try:
        tenants = [item.tenant for item in load_directory(directory, sources)]
    except ConfigFaults as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    print(fallback_dialplan(tenants, datetime.now(UTC)), end="")
    return 0
