"""The in-app worker (embedded default): runs every registered task inside ``serve``.

Features add their :class:`jobs.worker.Task` objects to ``Services.tasks`` while they are
wired; the worker starts with the app (after every feature is wired) and stops gracefully
with it, releasing unfinished jobs. ``[jobs] in_app = false`` leaves the work to
``callcenter worker`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.bootstrap import Services
from jobs.worker import Worker

WORKER: web.AppKey[Worker] = web.AppKey("jobs_worker", Worker)


def make_worker(services: Services, *, queues: list[str] | None = None) -> Worker:
    cfg = services.config.jobs
    return Worker(
        services.db,
        services.tasks,
        queues=queues if queues is not None else cfg.queue_list,
        concurrency=cfg.concurrency,
        lease=cfg.lease_seconds,
        poll_interval=cfg.poll_interval,
        periodic=services.periodic,
    )


def wire_jobs(services: Services) -> None:
    if not services.config.jobs.in_app:
        return

    async def run(app: web.Application) -> AsyncIterator[None]:
        worker = make_worker(services)
        app[WORKER] = worker
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name="jobs-worker")
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    services.lifecycles.append(run)
