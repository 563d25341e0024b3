"""Migrations on empty PostgreSQL and SQLite databases, and models == migrations (no drift)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from callcenter.db import migrate
from callcenter.db.session import Database, DatabaseURLError, create_engine
from composition.features import target_metadata

CORE_TABLES = {
    "tenants", "dids", "queues", "users", "user_tenants", "agents",
    "queue_members", "api_tokens", "calls", "call_events",
}  # fmt: skip


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, target_metadata()))


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def migrated_pg(pg_url: str) -> str:
    """The session's PostgreSQL database migrated to head (shared by the db/auth tests)."""
    await asyncio.to_thread(migrate.upgrade, pg_url)
    return pg_url


async def test_postgres_empty_to_head(migrated_pg: str) -> None:
    assert await migrate.current_async(migrated_pg) == migrate.head()
    assert await _run_sync(migrated_pg, _tables) >= CORE_TABLES
    # Upgrading an up-to-date database is a no-op, not an error.
    await asyncio.to_thread(migrate.upgrade, migrated_pg)


async def test_postgres_models_match_migrations(migrated_pg: str) -> None:
    diff = await _run_sync(migrated_pg, _diff)
    assert diff == [], f"models and migrations disagree: {diff}"


async def test_sqlite_file_empty_to_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'cc.sqlite3'}"
    assert await migrate.current_async(url) is None
    await asyncio.to_thread(migrate.upgrade, url)
    assert await migrate.current_async(url) == migrate.head()
    assert await _run_sync(url, _tables) >= CORE_TABLES
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert (mode, fks) == ("wal", 1)
        assert await db.ping() == (True, "sqlite ok")
    finally:
        await db.close()


def test_sync_upgrade_and_current_outside_a_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"
    migrate.upgrade(url, "0001_foundation")
    assert migrate.current(url) == "0001_foundation"
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None


def test_revision_chain_starts_at_foundation() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite+aiosqlite://"))
    base = script.get_revision("0001_foundation")
    assert base is not None and base.down_revision is None
    assert len(script.get_heads()) == 1, "migration history must stay linear"


async def test_ping_reports_an_unreachable_server() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        ok, detail = await db.ping()
    finally:
        await db.close()
    assert not ok and detail.startswith("postgresql:")


def test_unsupported_url_is_refused_with_the_reason() -> None:
    with pytest.raises(DatabaseURLError, match=r"mysql.*not supported"):
        Database("mysql://root@localhost/x")


async def test_ping_times_out_on_a_silent_server() -> None:
    # A server that accepts TCP but never speaks: what a hung database looks like.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    try:
        assert await db.ping(timeout=0.5) == (False, "postgresql: no answer within 0.5 s")
    finally:
        await db.close()
        server.close()
        await server.wait_closed()
