"""Alembic environment: runs the hand-written migrations over the async drivers.

The URL comes from ``config.attributes["database_url"]`` (set by :mod:`callcenter.db.migrate`);
a caller may instead pass an open sync connection as ``config.attributes["connection"]``.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from callcenter.db.session import create_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # Only autogenerate/compare needs the models; plain upgrades run the scripts.
        target_metadata=config.attributes.get("target_metadata"),
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL given to the migration environment")
    asyncio.run(_run_async(url))


_main()
