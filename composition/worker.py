"""``callcenter worker``: a job worker process with every feature's tasks.

Composition like ``serve`` but without HTTP, AMI or the ARI events websocket: the database,
the bus, an ARI REST client (voicemail fetches recordings over the network) and the tasks.
The lifecycles the task wirings register (closing HTTP sessions, transcription processes,
the database) run around the worker as they would around the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from typing import Any

from aiohttp import web

from callcenter.config import Config, ConfigError
from callcenter.logs import setup_logging
from callcenter.services import build_services

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    worker: argparse.ArgumentParser = sub.add_parser(
        "worker",
        help="run a background-job worker (transcription, e-mail, webhooks, retention)",
        description="Claims jobs from the database until SIGTERM/SIGINT (graceful stop). "
        "Runs on any machine that reaches the database and the PBX's ARI.",
    )
    worker.add_argument(
        "--queue", action="append", default=None, help="only this queue (repeatable; default all)"
    )
    worker.add_argument("--concurrency", type=int, default=None, help="jobs at once")
    worker.add_argument("--once", action="store_true", help="run what is due, then exit")
    worker.set_defaults(func=_worker)


def _worker(config: Config, args: argparse.Namespace) -> int:
    setup_logging(config.app.log_level, config.app.log_format)
    return asyncio.run(run_worker(config, queues=args.queue, concurrency=args.concurrency,
                                  once=args.once))  # fmt: skip


async def run_worker(
    config: Config,
    *,
    queues: list[str] | None = None,
    concurrency: int | None = None,
    once: bool = False,
) -> int:
    from crm.plugin import wire_tasks as wire_crm_tasks
    from jobs.cli import install_signal_handlers
    from jobs.plugin import JOBS, JobRegistry, make_worker
    from voicemail.plugin import ari_rest, wire_voicemail_tasks

    services = build_services(config)
    registry = JobRegistry()
    services.provide(JOBS, registry)
    rest = ari_rest(services)
    try:
        wire_voicemail_tasks(services, rest)
        wire_crm_tasks(services)
    except ConfigError as exc:
        print(f"callcenter worker: {exc}", file=sys.stderr)
        await services.db.close()
        return 2
    worker = make_worker(services, registry, queues=queues)
    if concurrency is not None:
        worker.concurrency = concurrency
    log.info("worker %s: queues %s, tasks %s", worker.worker_id, queues or "all",
             ", ".join(sorted(worker.tasks)))  # fmt: skip
    app = web.Application()  # only as the lifecycles' argument
    async with contextlib.AsyncExitStack() as stack:
        for lifecycle in services.lifecycles:
            await stack.enter_async_context(contextlib.asynccontextmanager(lifecycle)(app))
        try:
            if once:
                await worker.drain(timeout=3600)
            else:
                stop = asyncio.Event()
                install_signal_handlers(stop)
                await worker.run(stop)
        finally:
            await rest.close_session()
    return 0
