"""A PBX restart loses app_queue's runtime members and (here) the generated queue file;
the app puts both back from the database on reconnect. A fresh app does the same.

Runs on an extra Asterisk instance (``pbx_factory``): the shared one is never killed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agents import plugin as agents_plugin
from agents.plugin import PROVISIONING, Provisioning
from callcenter.app import build_app
from callcenter.config import Config, DatabaseConfig
from callcenter.db import migrate
from callcenter.db.models import Agent, Queue, QueueMember
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import attach_pbx, build_services
from callcontrol import plugin as callcontrol_plugin
from ivr.loader import load_tenant_text
from ivr.plugin import TENANTS
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.store import save_tenants

PASSWORD = "s3cret-Passw0rd"
IFACE = "Local/agent81@agents/n"
DOC = """
slug = "cc-r"
name = "Restart AG"
greeting = "Restart AG, {agent}"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
mon = ["00:00-24:00"]
[[dids]]
number = "+49 30 5550300"
queue = "q-ccr-de"
[routing]
[[routing.queues]]
name = "q-ccr-de"
language = "de"
[ivr]
entry = "reception"
receptionist = "reception"
closed = "reception"
[flows.reception]
type = "queue"
"""
Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def running_app(
    config: Config, registry: TenantRegistry
) -> AsyncIterator[tuple[Client, Provisioning]]:
    services = build_services(config)
    attach_pbx(services)
    services.provide(TENANTS, registry)
    agents_plugin.wire(services)
    callcontrol_plugin.wire(services)
    prov = services.require(PROVISIONING)
    async with TestClient(TestServer(build_app(services))) as client:
        yield client, prov


async def member(ami: AmiClient) -> dict[str, str] | None:
    try:
        events = await ami.send_list_action("QueueStatus", {"Queue": "q-ccr-de"})
    except Exception:  # PBX restarting, not connected yet
        return None
    for m in events:
        if m.name == "QueueMember" and m.get("Location") == IFACE:
            return dict(m.headers)
    return None


async def wait_for(pred: Callable[[], object], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_membership_and_queues_restored_after_pbx_and_app_restart(
    pbx_factory: Callable[[], Sandbox],
    pbx_config: Config,
    pg_url: str,
    tmp_path: Path,
) -> None:
    sandbox = pbx_factory()
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(migrate.upgrade, pg_url)
    config = dataclasses.replace(
        pbx_config, pbx=sandbox.config, database=DatabaseConfig(url=pg_url)
    )
    sources = PromptSources.for_pbx_root(config.pbx.root, tmp_path)
    item = load_tenant_text(DOC, sources, "<restart>")
    registry = TenantRegistry()
    registry.replace([item])
    db = Database(pg_url)
    try:
        async with db.session() as session:
            await save_tenants(session, [item], deactivate_missing=False)
        user = await UserRepository(db).add("restart-anna", PASSWORD, "receptionist")
        async with db.session() as session:
            queue_id = await session.scalar(select(Queue.id).where(Queue.name == "q-ccr-de"))
            agent = Agent(
                user_id=user.id, interface=IFACE, state_interface="Custom:agent81", name="Anna R"
            )
            session.add(agent)
            await session.flush()
            session.add(QueueMember(queue_id=queue_id, agent_id=agent.id, penalty=1))
    finally:
        await db.close()

    ami = AmiClient.from_config(config.pbx, events=False)
    await ami.start()
    try:
        await ami.wait_connected(10)
        async with running_app(config, registry) as (client, prov):
            await wait_for(lambda: _true(prov.generation == registry.generation), "provisioned")
            resp = await client.post(
                "/api/auth/login", json={"username": "restart-anna", "password": PASSWORD}
            )
            auth = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            assert (await client.post("/api/agents/me/login", headers=auth)).status == 200
            resp = await client.post("/api/agents/me/pause", json={"reason": "break"}, headers=auth)
            assert resp.status == 200
            before = await member(ami)
            assert before is not None and before["PausedReason"] == "break"

            # Kill Asterisk and lose the generated queue file as well.
            await asyncio.to_thread(sandbox.kill)
            assert sandbox.remove_generated("queues-tenants.conf")
            # While the PBX is down a change is stored and answered 202, applied later.
            resp = await client.post("/api/agents/me/pause", json={"reason": "lunch"}, headers=auth)
            body = await resp.json()
            assert resp.status == 202 and body["applied"] is False, body
            assert "applied on reconnect" in body["detail"]
            await asyncio.to_thread(sandbox.up)
            booted = time.monotonic()

            async def restored() -> bool:
                m = await member(ami)
                return m is not None and m["Paused"] == "1" and m["PausedReason"] == "lunch"

            await wait_for(restored, "membership restored after the PBX restart")
            print(
                f"\nPBX restart: membership restored {time.monotonic() - booted:.2f} s after boot"
            )
            m = await member(ami)
            assert m is not None and m["Penalty"] == "1" and m["Name"] == "Anna R"
            assert m["StateInterface"] == "Custom:agent81"
            gen = sandbox.instance_dir / "etc" / "generated" / "queues-tenants.conf"
            assert "[q-ccr-de]" in gen.read_text()

        # App restart: the PBX kept the member; take it away, a fresh app restores it.
        await ami.send_action("QueueRemove", {"Queue": "q-ccr-de", "Interface": IFACE})
        assert await member(ami) is None
        started = time.monotonic()
        async with running_app(config, registry):
            await wait_for(restored, "membership restored by a fresh app")
            print(
                f"app restart: membership restored {time.monotonic() - started:.2f} s after start"
            )
    finally:
        await ami.close()


async def _true(value: bool) -> bool:
    return value
