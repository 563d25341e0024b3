"""Trunk status over real SIP: a registration trunk registers at the carrier instance and
takes calls on its contact; a carrier that goes away is "down" in the lines status, in
``/healthz``, ``/metrics`` and the live state of the running app."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, Wait, place_call
from callcenter.services import SERVICES
from composition.app import make_app
from lines.service import LinesService
from tests.integration import sip_carrier
from tests.integration.conftest import SandboxFactory


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


def _trunk_up(service: LinesService) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        await service.poll()
        return service.status.lines["trunk-carrier"].up

    return check


async def test_registration_trunk_registers_takes_calls_and_goes_down(
    pbx: Sandbox, pbx_factory: SandboxFactory, ari: AriClient
) -> None:
    password = secrets.token_urlsafe(16)
    carrier = pbx_factory()
    await asyncio.to_thread(sip_carrier.start_carrier, carrier, sip_carrier.registrar(password))
    trunks = sip_carrier.register_trunk(carrier.config)
    async with sip_carrier.system_lines(pbx, trunks, {"trunk_carrier": password}) as lines:
        service = lines.service
        await _until(_trunk_up(service), 30, "registered at the carrier")
        line = service.status.lines["trunk-carrier"]
        assert line.registration == "Registered"
        # The carrier calls our registered contact (no number in the Request-URI) with the
        # DID, national format, in P-Called-Party-ID.
        carrier_ari = AriClient.from_config(carrier.config)
        await carrier_ari.start()
        try:
            out = dataclasses.replace(carrier.config, inbound_context="carrier-out")
            scenario = Scenario(
                "0",
                "+4930123456",
                "",
                (Wait(5.0),),
                inbound_variables={"CC_PEER": sip_carrier.REG_USER, "CC_PCPI": "0891230000"},
            )
            with ari.subscribe() as events:
                await place_call(carrier_ari, out, scenario)
                start = await events.wait_for(
                    "StasisStart",
                    lambda e: (
                        e.channel is not None and e.channel.name.startswith("PJSIP/trunk-carrier")
                    ),
                    timeout=15,
                )
                assert start.channel is not None
                assert start.channel.dialplan.exten == "0891230000"
                assert await ari.get_var(start.channel.id, "CC_TRUNK") == "carrier"
                await ari.hangup(start.channel.id)
        finally:
            await carrier_ari.close()
        await asyncio.to_thread(carrier.down)

        async def down() -> bool:
            return not await _trunk_up(service)()

        await _until(down, 30, "trunk reported down after the carrier stopped")
        assert service.status.down("trunk") == ["trunk-carrier"]


async def test_app_shows_trunk_down_in_healthz_metrics_and_live_state(
    pbx: Sandbox, pbx_factory: SandboxFactory, pbx_config: Config, pg_url: str, tmp_path: Path
) -> None:
    carrier = pbx_factory()
    await asyncio.to_thread(sip_carrier.start_carrier, carrier, sip_carrier.ip_peer(pbx.config))
    trunk_file = tmp_path / "trunks.toml"
    trunk_file.write_text(
        f"""
[[trunks]]
name = "carrier"
mode = "ip"
host = "127.0.0.1"
port = {carrier.config.sip_port}
match = ["127.0.0.1:{carrier.config.sip_port}"]
qualify_seconds = 2
""",
        encoding="utf-8",
    )
    await asyncio.to_thread(migrate.upgrade, pg_url)
    config = dataclasses.replace(
        pbx_config,
        database=dataclasses.replace(pbx_config.database, url=pg_url),
        lines=dataclasses.replace(
            pbx_config.lines, trunks_file=str(trunk_file), status_poll_seconds=0.5
        ),
    )
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(config), host="127.0.0.1"))
    await client.start_server()
    services = client.app[SERVICES]
    try:

        async def component(up: bool) -> bool:
            resp = await client.get("/healthz")
            body = await resp.json()
            parts = {c["name"]: c for c in body["components"]}
            return bool(parts["trunks"]["up"] is up and (resp.status == 200) is up)

        await _until(lambda: component(True), 30, "trunk up in /healthz")
        live = services.require_pbx().live.snapshot()["lines"]
        assert live["trunks"]["trunk-carrier"]["up"] is True
        metrics = await (await client.get("/metrics")).text()
        assert 'callcenter_trunk_up{trunk="trunk-carrier"} 1.0' in metrics

        await asyncio.to_thread(carrier.down)
        await _until(lambda: component(False), 30, "trunk down in /healthz")
        body = await (await client.get("/healthz")).json()
        trunks = next(c for c in body["components"] if c["name"] == "trunks")
        assert trunks["detail"] == "down: trunk-carrier (of 1)"
        live = services.require_pbx().live.snapshot()["lines"]
        assert live["trunks"]["trunk-carrier"]["up"] is False
        # Down because the PBX says so: the endpoint is unavailable, or (as Asterisk 22
        # leaves it after the endpoint was re-created by reloads) "Not in use" with every
        # contact unreachable.
        line = live["trunks"]["trunk-carrier"]
        contacts = list(line["contacts"].values())
        unreachable = bool(contacts) and all(c in ("Unreachable", "Unavailable") for c in contacts)
        assert line["device_state"] == "Unavailable" or unreachable, line
        metrics = await (await client.get("/metrics")).text()
        assert 'callcenter_trunk_up{trunk="trunk-carrier"} 0.0' in metrics
    finally:
        await client.close()
        async with sip_carrier.system_lines(pbx, sip_carrier.TrunkSet()):
            pass  # leave the shared instance without the app's trunk
