"""/healthz checks: a check that hangs or raises is reported down under its component name."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.config import load_config
from callcenter.health import ComponentHealth, run_checks
from callcenter.services import attach_pbx, build_services


async def test_hanging_or_raising_check_is_down_under_its_name() -> None:
    async def database() -> ComponentHealth:
        return ComponentHealth("database", True, "ok")

    async def ari() -> ComponentHealth:
        raise ConnectionError("refused")

    async def redis() -> ComponentHealth:
        await asyncio.sleep(5)
        raise AssertionError("not reached")

    healthy, parts = await run_checks([database, ari, redis], timeout=0.05)
    assert healthy is False
    assert [(p["name"], p["up"]) for p in parts] == [
        ("database", True),
        ("ari", False),
        ("redis", False),
    ]
    assert parts[1]["detail"] == "ConnectionError: refused"
    assert parts[2]["detail"] == "no answer within 0.05s"


async def test_app_checks_are_named_after_their_components(tmp_path: Path) -> None:
    config = load_config(None, env={"CALLCENTER__APP__DATA_DIR": str(tmp_path)})
    services = build_services(config)
    attach_pbx(services)
    try:
        assert [c.__name__ for c in services.checks] == ["database", "redis", "ami", "ari"]
    finally:
        await services.bus.close()
        await services.db.close()
