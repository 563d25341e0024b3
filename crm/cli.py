"""``callcenter crm import|export|lookup``: the CRM from the shell (bulk loads, checks).

``import`` is a dry run unless ``--apply`` is given; it prints the same JSON report as the
API (every bad row with its line and reason) and exits 0 even when rows were refused, so a
script reads the report rather than the status. Exit status 1 means nothing was imported
(unreadable file, bad mapping, unknown tenant).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from callcenter.config import Config
from callcenter.db.session import Database
from crm import csv_import, export, importing
from crm import repository as repo
from crm.lookup import Lookup


class CommandError(Exception):
    """Reported as ``callcenter crm: <message>`` with exit status 1."""


def register(subparsers: Any) -> None:
    """Add ``crm`` with its actions to the ``callcenter`` command."""
    crm = subparsers.add_parser("crm", help="contacts: import, export, caller lookup")
    sub = crm.add_subparsers(dest="crm_command", required=True, metavar="ACTION")

    imp = sub.add_parser("import", help="import contacts from CSV or vCard (dry run by default)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--tenant", required=True, metavar="SLUG")
    imp.add_argument("--format", choices=("csv", "vcard"), help="default: from the file name")
    imp.add_argument("--mapping", help='CSV columns, JSON: {"display_name": "Name", ...}')
    imp.add_argument("--apply", action="store_true", help="write (default: report only)")
    imp.set_defaults(func=_run(_import))

    exp = sub.add_parser("export", help="export a tenant's contacts")
    exp.add_argument("--tenant", required=True, metavar="SLUG")
    exp.add_argument("--format", choices=export.FORMATS, default="csv")
    exp.add_argument("-o", "--output", type=Path, help="file (default: stdout)")
    exp.set_defaults(func=_run(_export))

    look = sub.add_parser("lookup", help="who is calling? (the screen-pop rules)")
    look.add_argument("--tenant", required=True, metavar="SLUG")
    look.add_argument("caller", help="caller id as the PBX delivers it")
    look.set_defaults(func=_run(_lookup))


def _run(action: Any) -> Any:
    def handler(config: Config, args: argparse.Namespace) -> int:
        try:
            return int(asyncio.run(action(config, args)))
        except (CommandError, csv_import.MappingError) as exc:
            print(f"callcenter crm: {exc}", file=sys.stderr)
            return 1

    return handler


async def _tenant(db: Database, slug: str) -> tuple[int, str]:
    """``(id, phone region)`` of the tenant named ``slug``."""
    async with db.session() as s:
        tenant = await repo.tenant_by_slug(s, slug)
    if tenant is None:
        raise CommandError(f"no tenant with slug {slug!r}")
    return tenant


async def _import(config: Config, args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    fmt = args.format or ("vcard" if args.file.suffix.lower() in (".vcf", ".vcard") else "csv")
    mapping = csv_import.mapping_from_json(args.mapping) if args.mapping else None
    db = Database(config.database_url)
    try:
        tenant_id, region = await _tenant(db, args.tenant)
        rows, errors = importing.parse_file(text, fmt, mapping, region)
        async with db.session() as s:
            report = await importing.import_contacts(
                s, tenant_id, rows, errors, dry_run=not args.apply
            )
            if not args.apply:
                await s.rollback()
    finally:
        await db.close()
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    return 0


async def _export(config: Config, args: argparse.Namespace) -> int:
    db = Database(config.database_url)
    try:
        tenant_id, _ = await _tenant(db, args.tenant)
        async with db.session() as s:
            text = await export.export_contacts(s, tenant_id, args.format)
    finally:
        await db.close()
    if args.output:
        args.output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return 0


async def _lookup(config: Config, args: argparse.Namespace) -> int:
    db = Database(config.database_url)
    try:
        tenant_id, region = await _tenant(db, args.tenant)
        match = await Lookup(db.engine).lookup(tenant_id, args.caller, region)
    finally:
        await db.close()
    print(json.dumps(match.to_dict(), ensure_ascii=False, indent=2))
    return 0
