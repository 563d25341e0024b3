"""The IVR wired into the app services: tenants loaded on start-up (files on first start,
the database afterwards), without a PBX attached."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aiohttp import web

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.services import build_services
from ivr.http import REGISTRY
from ivr.placeholders import generate_for_file
from ivr.plugin import TENANTS, media_root_for, wire

REPO_TENANTS = Path(__file__).resolve().parents[2] / "config" / "tenants"


async def test_startup_loads_files_then_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tenants = tmp_path / "tenants"
    shutil.copytree(REPO_TENANTS, tenants)
    for path in tenants.glob("*.toml"):
        generate_for_file(path, data_dir / "recordings")
    url = f"sqlite+aiosqlite:///{tmp_path / 'cc.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(data_dir)},
            "database": {"url": url},
            "tenants": {"directory": str(tenants)},
        },
    )

    for round_ in range(2):  # first start: from the files; second: from the database
        services = build_services(config)
        wire(services)
        registry = services.require(TENANTS)
        app = web.Application()
        for setup in services.http_setups:
            setup(app)
        lifecycle = services.lifecycles[-1](app)
        await anext(lifecycle)
        assert app[REGISTRY] is registry
        assert sorted(t.slug for t in registry.tenants()) == ["harbour-legal", "mueller"], round_
        mueller = registry.by_did("+49891234560")
        assert mueller is not None and mueller.default_language == "de"
        await anext(lifecycle, None)
        await services.db.close()
        await services.bus.close()
        if round_ == 0:  # the second start must not need the files any more
            shutil.rmtree(tenants)


def test_media_root_inside_and_outside_the_pbx_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/cc/rec").mkdir(parents=True)
    assert media_root_for(root / "var/lib/cc/rec", root) == "/var/lib/cc/rec"
    assert media_root_for(tmp_path / "elsewhere", root) == ""
