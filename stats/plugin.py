"""The statistics feature in the app: rollups follow every stored call, routes under
/api/stats, ``callcenter stats`` commands.

Two writers store call rows: the live state (as calls end) and the queue_log reconciler
(calls the app missed or saw only in part, ADR 0004). Both report the linkedid through
``services.call_stored`` to the one :class:`~stats.rollups.RollupUpdater`, which recomputes
the call's bucket (ADR 0009).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.plugin import Feature
from callcenter.services import Services
from stats import cli, http
from stats.rollups import RollupUpdater


def wire(services: Services) -> None:
    """The rollup updater (started with the app, told of every stored call) and the routes."""
    made = RollupUpdater(services.db)
    services.call_stored.append(made.call_stored)

    async def run(_app: web.Application) -> AsyncIterator[None]:
        await made.start()
        yield
        await made.close()

    services.lifecycles.append(run)
    services.metrics.add_counter_source(
        "callcenter_stats_buckets_recomputed",
        "15-minute statistics buckets recomputed",
        lambda: made.recomputed,
    )
    services.http_setups.append(http.setup)


FEATURE = Feature("stats", models=("stats.models",), wire=wire, commands=cli.register)
