"""Tenant files → database → registry, on real PostgreSQL (and SQLite): reload without restart."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from callcenter.bus import InProcessBus
from callcenter.db import migrate
from callcenter.db.models import Did, Queue
from callcenter.db.models import Tenant as TenantRow
from callcenter.db.session import Database, create_engine
from composition.features import target_metadata
from ivr.errors import ConfigFaults
from ivr.models import TenantConfig
from ivr.placeholders import generate_for_file
from ivr.prompts import PromptSources
from ivr.registry import RELOAD_TOPIC, TenantRegistry, reload_from_db, reload_from_files
from tests.conftest import fresh_database

PBX_ROOT = Path("/var/cache/callcenter/pbx-root")
REPO_TENANTS = Path(__file__).resolve().parents[2] / "config" / "tenants"
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def ivr_pg_url() -> Iterator[str]:
    """A database of its own: these tests create tenants named like the demo ones."""
    with fresh_database("cc_ivr") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
async def db(ivr_pg_url: str) -> AsyncIterator[Database]:
    database = Database(ivr_pg_url)
    async with database.session() as session:  # each test starts without tenants
        for row in (await session.execute(select(TenantRow))).scalars():
            await session.delete(row)
        for queue in (await session.execute(select(Queue))).scalars():
            await session.delete(queue)
    yield database
    await database.close()


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "tenants"
    shutil.copytree(REPO_TENANTS, directory)
    return directory


@pytest.fixture
def sources(tmp_path: Path, tenants_dir: Path) -> PromptSources:
    recordings = tmp_path / "recordings"
    for path in tenants_dir.glob("*.toml"):
        generate_for_file(path, recordings)
    return PromptSources.for_pbx_root(PBX_ROOT, recordings)


def _ivr_diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return [d for d in compare_metadata(ctx, target_metadata()) if "ivr_" in repr(d)]


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_routing_tables_match_models_on_postgres(ivr_pg_url: str) -> None:
    assert await _run_sync(ivr_pg_url, _ivr_diff) == []


async def test_routing_migration_on_sqlite_up_and_down(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _run_sync(url, _ivr_diff) == []
    await asyncio.to_thread(migrate.downgrade, url, "0002_crm")
    tables = await _run_sync(url, lambda c: c.dialect.get_table_names(c))
    assert "ivr_tenant_configs" not in tables and "tenants" in tables


async def test_load_store_and_reload_without_restart(
    db: Database, tenants_dir: Path, sources: PromptSources
) -> None:
    registry = TenantRegistry()
    bus = InProcessBus()
    events = bus.subscribe(RELOAD_TOPIC)
    pending = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    report = await reload_from_files(registry, db, tenants_dir, sources, bus)
    assert sorted(report.created) == ["harbour-legal", "mueller"]
    topic, event = await asyncio.wait_for(pending, 5)
    assert topic == RELOAD_TOPIC and event["tenants"] == ["harbour-legal", "mueller"]

    mueller = registry.by_did("+49891234561")
    assert mueller is not None and mueller.slug == "mueller"
    async with db.session() as session:
        row = (
            await session.execute(select(TenantRow).where(TenantRow.slug == "mueller"))
        ).scalar_one()
        assert (row.name, row.state, row.default_language) == ("Müller GmbH", "BY", "de")
        numbers = sorted(
            (await session.execute(select(Did.number).where(Did.tenant_id == row.id))).scalars()
        )
        assert numbers == ["+49891234560", "+49891234561"]
        queues = sorted(
            (
                await session.execute(
                    select(Queue.name, Queue.language).where(Queue.tenant_id == row.id)
                )
            ).all()
        )
        assert queues == [("q-mueller-de", "de"), ("q-mueller-en", "en"), ("q-pool-de", "de")]
        config = await session.get(TenantConfig, row.id)
        assert config is not None and config.version == 1

    # Change the hours in the file: reload, new version, the registry sees it at once.
    path = tenants_dir / "mueller.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('fri = ["08:00-14:00"]', 'fri = ["08:00-15:00"]'),
        encoding="utf-8",
    )
    generation = registry.generation
    report = await reload_from_files(registry, db, tenants_dir, sources)
    assert (report.changed, report.unchanged) == (["mueller"], ["harbour-legal"])
    assert registry.generation == generation + 1
    fresh = registry.get("mueller")
    assert fresh is not None and fresh.hours[4][0].end == 15 * 3600

    # A second instance reads the same configuration from the database.
    other = TenantRegistry()
    await reload_from_db(other, db, sources)
    assert other.get("mueller") == fresh

    # A broken file: every fault reported, database and running set unchanged.
    path.write_text(
        path.read_text(encoding="utf-8").replace('"9" = "opening-hours"', '"9" = "opening-hourz"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigFaults) as info:
        await reload_from_files(registry, db, tenants_dir, sources)
    assert [(f.path, f.reason) for f in info.value.faults] == [
        ("flows.main.options.9", "dangling target 'opening-hourz'")
    ]
    assert registry.get("mueller") is fresh
    async with db.session() as session:
        row = (
            await session.execute(select(TenantRow).where(TenantRow.slug == "mueller"))
        ).scalar_one()
        config = await session.get(TenantConfig, row.id)
        assert config is not None and config.version == 2

    # A tenant whose file is removed is deactivated and its numbers are released.
    path.unlink()
    report = await reload_from_files(registry, db, tenants_dir, sources)
    assert report.deactivated == ["mueller"]
    assert registry.get("mueller") is None and registry.by_did("+49891234560") is None
    async with db.session() as session:
        row = (
            await session.execute(select(TenantRow).where(TenantRow.slug == "mueller"))
        ).scalar_one()
        assert row.active is False
        assert (await session.execute(select(Did).where(Did.tenant_id == row.id))).first() is None
    await bus.close()


async def test_number_owned_by_another_tenant_in_the_database(
    db: Database, tenants_dir: Path, sources: PromptSources
) -> None:
    async with db.session() as session:
        other = TenantRow(slug="someone-else", name="Someone Else")
        session.add(other)
        await session.flush()
        session.add(Did(tenant_id=other.id, number="+49405550199"))
    registry = TenantRegistry()
    with pytest.raises(ConfigFaults) as info:
        await reload_from_files(registry, db, tenants_dir, sources)
    assert [(f.path, f.reason) for f in info.value.faults] == [
        ("dids.1.number", "+49405550199 belongs to tenant 'someone-else' in the database")
    ]
    assert registry.tenants() == []
    async with db.session() as session:
        assert (await session.execute(select(TenantConfig))).first() is None
