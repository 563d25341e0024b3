"""Operations endpoints of the real app (make_app) against the real Asterisk, PostgreSQL
and Redis: /healthz names each component, /metrics speaks Prometheus, / lists the API."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import SERVICES
from composition.app import make_app


async def _client(config: Config) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(config), host="127.0.0.1"))
    await client.start_server()
    return client


def _with(config: Config, **sections: dict[str, Any]) -> Config:
    changes = {
        name: dataclasses.replace(getattr(config, name), **values)
        for name, values in sections.items()
    }
    return dataclasses.replace(config, **changes)


@pytest.fixture
async def app(
    pbx: Sandbox, pbx_config: Config, pg_url: str, redis_url: str
) -> AsyncIterator[TestClient[Any, Any]]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    if not pbx.running():
        await asyncio.to_thread(pbx.up)
    config = _with(pbx_config, database={"url": pg_url}, redis={"url": redis_url})
    client = await _client(config)
    services = client.app[SERVICES]
    try:
        for _ in range(200):
            if services.require_pbx().ami.connected and services.require_pbx().ari.connected:
                break
            await asyncio.sleep(0.05)
        yield client
    finally:
        await client.close()


async def test_healthz_shows_every_component_up(app: TestClient[Any, Any]) -> None:
    resp = await app.get("/healthz")
    body = await resp.json()
    assert resp.status == 200, body
    parts = {c["name"]: c for c in body["components"]}
    assert set(parts) == {"database", "redis", "ami", "ari", "trunks", "phones"}
    # Phones are informative: the shared test database may hold phones other tests made
    # (none of them registered), which never makes the service degraded.
    assert all(c["up"] for c in parts.values() if c["required"]), parts
    assert parts["phones"]["required"] is False
    assert re.fullmatch(r"\d+ of \d+ registered(; not registered: .+)?", parts["phones"]["detail"])
    assert parts["trunks"] == {
        "name": "trunks",
        "up": True,
        "detail": "no trunks configured",
        "required": False,
    }
    assert parts["database"]["detail"].startswith("postgresql")
    assert "connected to 127.0.0.1" in parts["ami"]["detail"]
    assert "22." in parts["ari"]["detail"]  # the Asterisk version ARI reported


async def test_metrics_and_index(app: TestClient[Any, Any]) -> None:
    await app.get("/healthz")
    resp = await app.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert 'callcenter_component_up{component="ami"} 1.0' in text
    assert "callcenter_ari_request_seconds" in text
    assert "callcenter_calls_active" in text
    counts = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(("callcenter_ami_", "callcenter_ari_events"))
    }
    assert counts["callcenter_ami_events_total"] >= 1  # FullyBooted, at least
    assert counts["callcenter_ami_reconnects_total"] == 0
    assert "callcenter_ari_events_total" in counts
    index = await (await app.get("/")).json()
    assert "GET /api/live" in index["routes"] and index["health"] == "/healthz"
    missing = await app.get("/no/such/page")
    assert missing.status == 404 and (await missing.json())["error"] == "not_found"


async def test_healthz_degraded_names_what_is_down(
    pbx_config: Config, pg_url: str, data_dir: Any
) -> None:
    """No PBX on the configured ports and a Redis that does not answer: 503, with reasons."""
    await asyncio.to_thread(migrate.upgrade, pg_url)
    config = _with(
        pbx_config,
        app={"data_dir": data_dir},
        database={"url": pg_url},
        redis={"url": "redis://127.0.0.1:1/0"},
        pbx={"ami_port": 1, "http_port": 2, "ami_secret": "x", "ari_password": "x"},
    )
    client = await _client(config)
    try:
        await asyncio.sleep(0.5)
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["status"] == "degraded"
        parts = {c["name"]: c for c in body["components"]}
        assert parts["database"]["up"] is True
        assert parts["redis"]["up"] is False and "redis://127.0.0.1:1/0" in parts["redis"]["detail"]
        assert parts["ami"]["up"] is False and "127.0.0.1:1" in parts["ami"]["detail"]
        assert parts["ari"]["up"] is False and "events websocket down" in parts["ari"]["detail"]
    finally:
        await client.close()
