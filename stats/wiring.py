"""Put the statistics into the app: rollups follow every stored call, routes under /api/stats.

Two writers store call rows: the live state (as calls end) and the queue_log reconciler
(calls the app missed or saw only in part, ADR 0004). Both report the linkedid to the one
:class:`~stats.rollups.RollupUpdater` that :func:`rollups` makes, which recomputes the
call's bucket (ADR 0009).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.bootstrap import Services
from callcenter.state.service import CallSink
from stats import http
from stats.rollups import RollupUpdater, StatsCallSink


def rollups(services: Services) -> RollupUpdater:
    """The app's rollup updater, started and stopped with the app (call once)."""
    updater = RollupUpdater(services.db)

    async def run(_app: web.Application) -> AsyncIterator[None]:
        await updater.start()
        yield
        await updater.close()

    services.lifecycles.append(run)
    services.metrics.add_counter_source(
        "callcenter_stats_buckets_recomputed",
        "15-minute statistics buckets recomputed",
        lambda: updater.recomputed,
    )
    return updater


def call_sink(inner: CallSink, updater: RollupUpdater) -> CallSink:
    """``inner`` (the call repository) with the rollups kept current."""
    return StatsCallSink(inner, updater)


def wire_stats(services: Services) -> None:
    """Routes (``/api/stats/…``)."""
    services.http_setups.append(http.setup)
