"""The job engine in the app: the registry every feature adds its tasks to, and the in-app
worker (embedded default) that runs them inside ``serve``.

Features ``services.require(JOBS)`` and add their :class:`jobs.worker.Task` and
:class:`jobs.worker.Periodic` objects while they are wired (so ``jobs`` comes first in the
feature list). The worker starts with the app and stops on shutdown, before any feature's
cleanup runs (releasing unfinished jobs). ``[jobs] in_app = false`` leaves the work to
``callcenter worker`` processes (:mod:`composition.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from callcenter.plugin import Feature
from callcenter.services import Port, Services
from jobs import cli
from jobs.worker import Periodic, Task, Worker

WORKER: web.AppKey[Worker] = web.AppKey("jobs_worker", Worker)


@dataclass
class JobRegistry:
    """Every feature's background tasks (run by the in-app worker or ``callcenter worker``)."""

    tasks: list[Task] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)


JOBS: Port[JobRegistry] = Port("jobs.registry")


def make_worker(
    services: Services, registry: JobRegistry, *, queues: list[str] | None = None
) -> Worker:
    cfg = services.config.jobs
    return Worker(
        services.db,
        registry.tasks,
        queues=queues if queues is not None else cfg.queue_list,
        concurrency=cfg.concurrency,
        lease=cfg.lease_seconds,
        poll_interval=cfg.poll_interval,
        periodic=registry.periodic,
    )


def wire(services: Services) -> None:
    """Provide the registry (:data:`JOBS`); run the in-app worker unless disabled."""
    registry = JobRegistry()
    services.provide(JOBS, registry)
    if not services.config.jobs.in_app:
        return

    async def run(app: web.Application) -> AsyncIterator[None]:
        worker = make_worker(services, registry)  # every feature has registered by now
        app[WORKER] = worker
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop), name="jobs-worker")

        async def stop_first(_app: web.Application) -> None:
            # on_shutdown runs before any cleanup context exits: no job runs on a feature
            # whose resources (a transcriber, a session) are already closed.
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.on_shutdown.append(stop_first)
        yield
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    services.lifecycles.append(run)


FEATURE = Feature("jobs", models=("jobs.models",), wire=wire, commands=cli.register)
