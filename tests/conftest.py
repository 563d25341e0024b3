"""Shared fixtures: a fresh PostgreSQL database per test session, Redis, a temp config.

PostgreSQL and Redis are real (127.0.0.1 defaults; override with CALLCENTER_TEST_PG_DSN /
CALLCENTER_TEST_REDIS_URL). The Asterisk sandbox fixture lives in tests/integration/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Every process the tests start (the app, its CLI, workers) runs the code of this checkout,
# not whichever checkout the virtualenv was installed from (editable installs point at one;
# git worktrees sharing a venv would otherwise test each other's code).
ROOT = Path(__file__).resolve().parent.parent
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)
PG_ADMIN_DSN = os.environ.get("CALLCENTER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CALLCENTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """Create database ``<prefix>_<random>``, yield its SQLAlchemy URL, drop it afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a database created for this session and dropped afterwards."""
    with fresh_database("cc_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
