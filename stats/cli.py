"""``callcenter stats rebuild|reconcile|billing|report``: controlling from the shell.

``rebuild`` recomputes the rollups of a period from the call rows (after a threshold
change, an outage of the app, or to check them). ``reconcile`` compares a period with
Asterisk's ``queue_log`` and lists every difference; exit status 1 when there is one.
``billing`` writes a tenant's monthly export (CSV, XLSX or JSON); ``report`` prints the JSON
report. Bad arguments exit 2 naming the argument.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callcenter.config import Config
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from stats import billing, reconcile, reports, rollups
from stats.period import Period, PeriodError, parse_period, zone


class CommandError(Exception):
    """Reported as ``callcenter stats: <message>``."""


def register(subparsers: Any) -> None:
    """Add ``stats`` with its actions to the ``callcenter`` command."""
    stats = subparsers.add_parser("stats", help="controlling: rollups, reports, billing, checks")
    sub = stats.add_subparsers(dest="stats_command", required=True, metavar="ACTION")

    def period_args(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument("--period", choices=("day", "week", "month", "custom"), default=default)
        p.add_argument("--date", help="a day of the period, YYYY-MM-DD (default: today)")
        p.add_argument("--month", help="YYYY-MM for --period month")
        p.add_argument("--from", dest="first", help="first day of a custom period")
        p.add_argument("--to", dest="last", help="last day of a custom period")

    reb = sub.add_parser("rebuild", help="recompute rollups from the call rows")
    reb.add_argument("--tenant", metavar="SLUG", help="one tenant (default: all)")
    period_args(reb, "month")
    reb.set_defaults(func=_run(_rebuild))

    rec = sub.add_parser("reconcile", help="compare with Asterisk's queue_log")
    rec.add_argument(
        "--queue-log",
        type=Path,
        help="the PBX's queue_log file (default: the copy the app keeps in the database)",
    )
    rec.add_argument("--tenant", metavar="SLUG", help="one tenant's queues (default: all)")
    period_args(rec, "day")
    rec.set_defaults(func=_run(_reconcile))

    bil = sub.add_parser("billing", help="a tenant's monthly billing export")
    bil.add_argument("--tenant", metavar="SLUG", required=True)
    bil.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
    bil.add_argument("-o", "--output", type=Path, help="file (default: stdout; xlsx needs -o)")
    period_args(bil, "month")
    bil.set_defaults(func=_run(_billing))

    rep = sub.add_parser("report", help="a tenant's report as JSON")
    rep.add_argument("--tenant", metavar="SLUG", required=True)
    period_args(rep, "day")
    rep.set_defaults(func=_run(_report))


Action = Callable[[Database, argparse.Namespace], Awaitable[int]]


def _run(action: Action) -> Callable[[Config, argparse.Namespace], int]:
    def handler(config: Config, args: argparse.Namespace) -> int:
        async def go() -> int:
            db = Database(config.database_url)
            try:
                return await action(db, args)
            finally:
                await db.close()

        try:
            return asyncio.run(go())
        except PeriodError as exc:
            print(f"callcenter stats: --{exc.field}: {exc.reason}", file=sys.stderr)
            return 2
        except CommandError as exc:
            print(f"callcenter stats: {exc}", file=sys.stderr)
            return 2

    return handler


async def _tenant(db: Database, slug: str | None) -> tuple[int | None, str]:
    """(id, timezone) of ``slug``; (None, UTC) without one."""
    if slug is None:
        return None, "UTC"
    async with db.session() as session:
        row = (
            await session.execute(select(Tenant.id, Tenant.timezone).where(Tenant.slug == slug))
        ).first()
    if row is None:
        raise CommandError(f"--tenant: no tenant {slug!r}")
    return row[0], row[1]


def _period(args: argparse.Namespace, tz: str) -> Period:
    return parse_period(
        args.period, zone(tz), day=args.date, month=args.month, first=args.first, last=args.last
    )


async def _rebuild(db: Database, args: argparse.Namespace) -> int:
    tenant_id, tz = await _tenant(db, args.tenant)
    period = _period(args, tz)
    started = datetime.now(UTC)
    calls = await rollups.rebuild(
        db, period.start, period.end, None if tenant_id is None else [tenant_id]
    )
    took = (datetime.now(UTC) - started).total_seconds()
    print(f"rebuilt rollups {period.first}..{period.last} from {calls} calls in {took:.1f} s")
    return 0


async def _reconcile(db: Database, args: argparse.Namespace) -> int:
    tenant_id, tz = await _tenant(db, args.tenant)
    period = _period(args, tz)
    if args.queue_log is None:
        lines = await reconcile.stored_queue_log(db, period.start, period.end)
    else:
        try:
            lines = args.queue_log.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise CommandError(f"--queue-log: {exc.strerror}: {args.queue_log}") from None
    result = await reconcile.reconcile(db, lines, period.start, period.end, tenant_id=tenant_id)
    print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    return 0 if result.ok else 1


async def _billing(db: Database, args: argparse.Namespace) -> int:
    tenant_id, tz = await _tenant(db, args.tenant)
    assert tenant_id is not None  # --tenant is required
    bill = await billing.monthly_billing(db, tenant_id, _period(args, tz))
    if args.format == "xlsx":
        if args.output is None:
            raise CommandError("--output: an XLSX export needs a file")
        args.output.write_bytes(await billing.xlsx_bytes_async(bill))
        return 0
    text = billing.to_csv(bill) if args.format == "csv" else json.dumps(bill.as_dict(), indent=2)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


async def _report(db: Database, args: argparse.Namespace) -> int:
    tenant_id, tz = await _tenant(db, args.tenant)
    assert tenant_id is not None
    report = await reports.tenant_report(db, tenant_id, _period(args, tz))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0
