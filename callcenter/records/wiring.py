"""Put the queue_log reader and reconciler into the app (started and stopped with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.pbx.runtime import PbxInstance
from callcenter.records.repository import RecordRepository
from callcenter.records.service import RecordService
from callcenter.services import Services


def wire_records(services: Services) -> RecordService:
    config = services.config
    path = config.pbx.queue_log_path or PbxInstance(config.pbx, config.app.data_dir).queue_log
    service = RecordService(
        RecordRepository(services.db, config.pbx.instance),
        path,
        region=config.tenants.default_region,
        grace=config.pbx.reconcile_grace,
        interval=config.pbx.reconcile_interval,
        is_leader=services.leader,  # the ARI owner only (callcenter.lease)
    )
    stats = service.stats
    metrics = services.metrics
    for name, help_text, read in (
        ("lines", "queue_log lines stored", lambda: stats.lines),
        ("inserted", "call rows created from queue_log", lambda: stats.inserted),
        ("completed", "call rows completed from queue_log", lambda: stats.completed),
        ("failures", "queue_log rounds that failed", lambda: stats.failures),
    ):
        metrics.add_counter_source(f"callcenter_records_{name}", help_text, read)

    async def run(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    services.lifecycles.append(run)
    return service
