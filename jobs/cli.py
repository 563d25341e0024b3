"""``callcenter jobs list|retry`` (``callcenter worker`` is :mod:`composition.worker`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from sqlalchemy import select

from callcenter.config import Config

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    jobs: argparse.ArgumentParser = sub.add_parser("jobs", help="inspect and retry jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = jsub.add_parser("list", help="jobs per status, and the failed ones")
    listing.set_defaults(func=_list)
    retry = jsub.add_parser("retry", help="queue a failed job again")
    retry.add_argument("job_id", type=int)
    retry.set_defaults(func=_retry)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def _list(config: Config, _args: argparse.Namespace) -> int:
    from callcenter.db.session import Database
    from jobs import queue
    from jobs.models import Job

    async def run() -> int:
        db = Database(config.database_url)
        try:
            counts = await queue.counts(db)
            print("  ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no jobs")
            async with db.session() as s:
                failed = await s.scalars(
                    select(Job).where(Job.status == "failed").order_by(Job.id.desc()).limit(50)
                )
                for job in failed:
                    print(f"failed {job.id} {job.task} attempts={job.attempts}: {job.last_error}")
        finally:
            await db.close()
        return 0

    return asyncio.run(run())


def _retry(config: Config, args: argparse.Namespace) -> int:
    from callcenter.db.session import Database
    from jobs import queue

    async def run() -> int:
        db = Database(config.database_url)
        try:
            async with db.session() as s:
                ok = await queue.retry(s, args.job_id)
        finally:
            await db.close()
        if not ok:
            print(f"callcenter jobs retry: job {args.job_id} is not failed (or does not exist)")
            return 1
        print(f"job {args.job_id} queued again")
        return 0

    return asyncio.run(run())
