"""Schema migrations (Alembic, hand-written revisions in ``callcenter/migrations``).

Alembic is configured in code, so no ``alembic.ini`` is needed. :func:`upgrade` and
:func:`current` are synchronous (they run their own event loop); from async code call them
through ``await asyncio.to_thread(upgrade, url)``.

Features declare their model modules in their plug-in (:class:`callcenter.plugin.Feature`
``models``); the composition root passes them to :func:`target_metadata`, so that the drift
check (models vs migrations) sees the whole schema without the core naming a feature.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from callcenter.db.base import Base
from callcenter.db.session import Database, create_engine, parse_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# The core's own tables; the features' modules come from their plug-ins.
CORE_MODELS: tuple[str, ...] = (
    "callcenter.db.models",
    "callcenter.records.models",
    "callcenter.lease",
    "callcenter.audit",
)


def target_metadata(model_modules: Iterable[str] = ()) -> MetaData:
    """``Base.metadata`` after importing the core models and every module named."""
    for name in (*CORE_MODELS, *model_modules):
        importlib.import_module(name)
    return Base.metadata


def alembic_config(url: str) -> AlembicConfig:
    """A programmatic Alembic config pointing at the packaged migrations."""
    parse_url(url)  # fail early with a clear message
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` empties it)."""
    command.downgrade(alembic_config(url), revision)


def head() -> str:
    """The newest revision shipped with this version of the code."""
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    revision = script.get_current_head()
    if revision is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_async(url: str) -> str | None:
    """The revision the database at ``url`` is at, or ``None`` if it was never migrated."""
    engine = create_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def current(url: str) -> str | None:
    """Synchronous :func:`current_async` (not from inside a running event loop)."""
    return asyncio.run(current_async(url))


class SchemaBehind(Exception):
    """The database is not at this version's schema (``callcenter migrate`` first)."""


@contextlib.asynccontextmanager
async def command_database(url: str) -> AsyncIterator[Database]:
    """A one-connection :class:`Database` for a CLI command, closed when it is done.

    Refused with :class:`SchemaBehind` unless the schema is at :func:`head`: a command on an
    older (or newer) schema would fail half-way with an SQL error instead of saying why."""
    at, want = await current_async(url), head()
    if at != want:
        raise SchemaBehind(
            f"database schema is at {at or 'nothing'}, this version needs {want}: "
            "run 'callcenter migrate' first"
        )
    database = Database(url, pool_size=1)
    try:
        yield database
    finally:
        await database.close()
