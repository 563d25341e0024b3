"""Tenant facts in memory (slug → id, region, languages), kept current by reloads.

Call events name their tenant by slug; looking the row up per event cost a query each
(three or four per call in the screen pop alone). :class:`TenantFacts` answers from memory:
it loads every tenant at start-up, reads a slug it has not seen once from the database
(a tenant created since), and forgets everything when the tenant files are reloaded
(``TOPIC_TENANTS_RELOADED``, from this instance or another).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Row, Select, select

from callcenter.bus import Bus
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.phone.numbers import DEFAULT_REGION
from callcenter.topics import TOPIC_TENANTS_RELOADED

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TenantFact:
    id: int
    slug: str
    region: str  # upper case, e.g. "DE": how national numbers of this tenant's callers read
    languages: tuple[str, ...]


class TenantFacts:
    """``get(slug)``: the tenant's facts, from memory after the first time."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_slug: dict[str, TenantFact] = {}
        self.queries = 0  # database reads so far (tests, metrics)

    async def load(self) -> None:
        """Read every tenant (start-up and after a reload)."""
        async with self._db.session() as session:
            rows = (await session.execute(_columns())).all()
        self.queries += 1
        self._by_slug = {fact.slug: fact for fact in map(_fact, rows)}

    async def get(self, slug: str) -> TenantFact | None:
        fact = self._by_slug.get(slug)
        if fact is not None:
            return fact
        async with self._db.session() as session:
            row = (await session.execute(_columns().where(Tenant.slug == slug))).first()
        self.queries += 1
        if row is None:
            return None  # not cached: the tenant may be created a moment later
        fact = _fact(row)
        self._by_slug[slug] = fact
        return fact

    def forget(self) -> None:
        self._by_slug = {}

    async def follow(self, bus: Bus) -> None:
        """Reload on every tenant reload until cancelled."""
        async for _topic, _event in bus.subscribe(TOPIC_TENANTS_RELOADED):
            try:
                await self.load()
            except Exception:  # keep following; a miss reads the row on demand
                log.exception("tenant facts: reload failed")
                self.forget()


def _columns() -> Select[int, str, str, list[str]]:
    return select(Tenant.id, Tenant.slug, Tenant.region, Tenant.languages)


def _fact(row: Row[int, str, str, list[str]]) -> TenantFact:
    tenant_id, slug, region, languages = row
    return TenantFact(
        int(tenant_id),
        str(slug),
        str(region or DEFAULT_REGION).upper(),
        tuple(languages or ()),
    )
