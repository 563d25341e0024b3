"""``callcenter worker``: a job worker process with every feature's tasks.

Composition like ``serve`` but without HTTP, AMI or the ARI events websocket: the database,
the bus, an ARI REST client (voicemail fetches recordings over the network) and the tasks.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from callcenter.bootstrap import build_services
from callcenter.config import Config, ConfigError

log = logging.getLogger(__name__)


async def run_worker(
    config: Config,
    *,
    queues: list[str] | None = None,
    concurrency: int | None = None,
    once: bool = False,
) -> int:
    from jobs.cli import install_signal_handlers
    from jobs.wiring import make_worker
    from voicemail.wiring import ari_rest, wire_voicemail_tasks

    services = build_services(config)
    rest = ari_rest(services)
    try:
        deps = wire_voicemail_tasks(services, rest)
    except ConfigError as exc:
        print(f"callcenter worker: {exc}", file=sys.stderr)
        await services.db.close()
        return 2
    worker = make_worker(services, queues=queues)
    if concurrency is not None:
        worker.concurrency = concurrency
    log.info("worker %s: queues %s, tasks %s", worker.worker_id, queues or "all",
             ", ".join(sorted(worker.tasks)))  # fmt: skip
    try:
        if once:
            await worker.drain(timeout=3600)
        else:
            stop = asyncio.Event()
            install_signal_handlers(stop)
            await worker.run(stop)
    finally:
        if deps.transcriber is not None:
            deps.transcriber.close()
        await rest.close_session()
        await services.bus.close()
        await services.db.close()
    return 0
