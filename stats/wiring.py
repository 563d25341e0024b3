"""Put the statistics into the app: rollups follow every stored call, routes under /api/stats.

Two writers store call rows: the live state (as calls end) and the queue_log reconciler
(calls the app missed or saw only in part, ADR 0004). Both report the linkedid to the one
:class:`~stats.rollups.RollupUpdater`, which recomputes the call's bucket (ADR 0009).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from callcenter.state.service import CallSink
from stats import http
from stats.rollups import RollupUpdater, StatsCallSink


def updater(services: Any) -> RollupUpdater:
    """The app's one rollup updater (made, and started with the app, on first use)."""
    existing: RollupUpdater | None = getattr(services, "stats_rollups", None)
    if existing is not None:
        return existing
    made = RollupUpdater(services.db)
    services.stats_rollups = made

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
    return made


def call_sink(services: Any, inner: CallSink) -> CallSink:
    """``inner`` (the call repository) with the rollups kept current."""
    return StatsCallSink(inner, updater(services))


def wire_stats(services: Any) -> None:
    """Routes (``/api/stats/…``)."""
    services.http_setups.append(http.setup)
