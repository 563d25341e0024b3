"""The tenants a running process routes with, replaced as a whole on reload.

Reload without restart: ``reload_from_files`` validates every file first (all-or-nothing),
stores the result and swaps the in-memory set in one assignment, so a call never sees half
of an old and half of a new configuration; a broken file leaves the running set untouched.
Other app instances follow through the bus topic :data:`RELOAD_TOPIC` and read the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from callcenter.bus import Bus
from callcenter.db.session import Database
from callcenter.topics import TOPIC_TENANTS_RELOADED
from ivr.errors import ConfigWarning
from ivr.loader import LoadedTenant, load_directory
from ivr.prompts import PromptSources
from ivr.store import SaveReport, load_tenants, save_tenants
from ivr.tenancy import Tenant

log = logging.getLogger(__name__)
RELOAD_TOPIC = TOPIC_TENANTS_RELOADED


@dataclass(frozen=True, slots=True)
class _Snapshot:
    by_slug: dict[str, Tenant]
    by_did: dict[str, Tenant]
    warnings: tuple[ConfigWarning, ...]


class TenantRegistry:
    """Current tenants by slug and by dialled number."""

    def __init__(self) -> None:
        self._snap = _Snapshot({}, {}, ())
        self.generation = 0
        self._listeners: list[Callable[[list[Tenant]], None]] = []

    def on_replace(self, listener: Callable[[list[Tenant]], None]) -> None:
        """Call ``listener(tenants)`` after every replace (e.g. to regenerate PBX config)."""
        self._listeners.append(listener)

    def replace(self, loaded: Iterable[LoadedTenant]) -> None:
        items = list(loaded)
        by_slug = {i.tenant.slug: i.tenant for i in items}
        by_did = {d.number: i.tenant for i in items for d in i.tenant.dids}
        warnings = tuple(w for i in items for w in i.warnings)
        self._snap = _Snapshot(by_slug, by_did, warnings)  # one assignment: atomic swap
        self.generation += 1
        for listener in self._listeners:
            listener(self.tenants())

    def get(self, slug: str) -> Tenant | None:
        return self._snap.by_slug.get(slug)

    def by_did(self, number: str) -> Tenant | None:
        return self._snap.by_did.get(number)

    def tenants(self) -> list[Tenant]:
        return list(self._snap.by_slug.values())

    @property
    def warnings(self) -> tuple[ConfigWarning, ...]:
        return self._snap.warnings


async def reload_from_files(
    registry: TenantRegistry,
    db: Database,
    directory: Path,
    sources: PromptSources,
    bus: Bus | None = None,
) -> SaveReport:
    """Validate all files, store them, swap the registry, tell other instances.

    Raises :class:`ivr.errors.ConfigFaults` with every fault; nothing changes then.
    """
    loaded = load_directory(directory, sources)
    async with db.session() as session:
        report = await save_tenants(session, loaded)
    registry.replace(loaded)
    if bus is not None:
        await bus.publish(
            RELOAD_TOPIC,
            {
                "type": "tenants.reloaded",
                "generation": registry.generation,
                "tenants": sorted(t.tenant.slug for t in loaded),
            },
        )
    log.info("tenants reloaded: %s", report)
    return report


async def reload_from_db(registry: TenantRegistry, db: Database, sources: PromptSources) -> None:
    """Replace the registry with the stored configuration (start-up, bus notification)."""
    async with db.session() as session:
        loaded = await load_tenants(session, sources)
    registry.replace(loaded)


async def tenant_fingerprint(db: Database) -> tuple[tuple[int, int, str], ...]:
    """(tenant id, version, checksum) of every stored configuration: changes with every
    ``tenants load`` that changes anything."""
    from ivr.models import TenantConfig

    async with db.session() as session:
        rows = await session.execute(
            select(TenantConfig.tenant_id, TenantConfig.version, TenantConfig.checksum).order_by(
                TenantConfig.tenant_id
            )
        )
        return tuple((int(a), int(b), str(c)) for a, b, c in rows.all())


async def follow_reloads(
    registry: TenantRegistry,
    db: Database,
    sources: PromptSources,
    bus: Bus,
    poll: float = 2.0,
) -> None:
    """Run forever: reload from the database whenever another instance or ``tenants load``
    announces a reload on the bus, or the stored configuration changed (polled every
    ``poll`` s: without Redis the in-process bus cannot hear another process).

    A faulty stored configuration is logged and the current set kept.
    """

    async def reload() -> None:
        try:
            await reload_from_db(registry, db, sources)
        except Exception:  # keep serving with the previous set; the log says why
            log.exception("reloading tenants from the database failed; keeping the old set")

    async def announced() -> None:
        async for _topic, _event in bus.subscribe(RELOAD_TOPIC):
            await reload()

    async def polled() -> None:
        last: tuple[tuple[int, int, str], ...] | None = None
        while True:
            try:
                now = await tenant_fingerprint(db)
            except Exception:  # database away: the next round tries again
                now = None
            if now is not None:
                if last is not None and now != last:
                    log.info("tenant configuration changed in the database; reloading")
                    await reload()
                last = now
            await asyncio.sleep(poll)

    await asyncio.gather(announced(), polled())
