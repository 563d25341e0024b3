"""The CRM migration on PostgreSQL and SQLite matches crm.models (no drift)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from callcenter.db import migrate
from callcenter.db.session import create_engine
from composition.features import target_metadata


@pytest.fixture(scope="module")
async def crm_db_url(pg_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    return pg_url


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return [d for d in compare_metadata(ctx, target_metadata()) if "crm_" in repr(d)]


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_crm_tables_match_models_on_postgres(crm_db_url: str) -> None:
    assert await _run_sync(crm_db_url, _diff) == []


async def test_crm_migration_up_and_down_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url, "0002_crm")
    assert await _run_sync(url, _diff) == []
    await asyncio.to_thread(migrate.downgrade, url, "0001_foundation")
    assert await migrate.current_async(url) == "0001_foundation"
