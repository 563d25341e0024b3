"""Receptionists and call control on the real Asterisk with PostgreSQL, through the REST API.

One app (AMI + live state + agents + call control) against the session's sandbox. Callers
are real Local channels originated over AMI into the tenant queues; receptionists are
auto-answering ``Local/agentNN@agents/n`` members; staff numbers answer in a test-only
``[cc-transfer-sim]``. Every assertion reads the PBX (QueueStatus, CoreShowChannels,
ParkedCalls) or the live state, never a mock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from agents import plugin as agents_plugin
from agents.plugin import PROVISIONING, Provisioning
from callcenter.app import build_app
from callcenter.config import AgentsConfig, Config, DatabaseConfig
from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.models import Agent, Queue, QueueMember
from callcenter.db.users import UserRepository
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ami.message import Message
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import Services, attach_pbx, build_services
from callcontrol import plugin as callcontrol_plugin
from ivr.loader import LoadedTenant, load_tenant_text
from ivr.plugin import TENANTS
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.store import save_tenants

PASSWORD = "s3cret-Passw0rd"
Client = TestClient[web.Request, web.Application]
STAFF = "+4915123456789"

TENANT = """
slug = "{slug}"
name = "{name}"
greeting = "{name}, {{agent}}"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
mon = ["00:00-24:00"]
[[dids]]
number = "{did}"
queue = "q-{short}-de"
[[staff]]
id = "boss"
name = "Bernd Boss"
number = "+49 151 23456789"
[[staff]]
id = "broken"
name = "Line Out Of Order"
number = "+49 151 99999999"
[routing]
voicemail_box = "{slug}"
[[routing.queues]]
name = "q-{short}-de"
language = "de"
[[routing.queues]]
name = "q-{short}-en"
language = "de"
skill = "english"
{extra}
[ivr]
entry = "reception"
receptionist = "reception"
closed = "reception"
[flows.reception]
type = "queue"
"""

TEST_DIALPLAN = """
[cc-test-inbound]
exten => _q-.,1,Set(CC_TENANT=${CC_T})
 same => n,Goto(cc-queue,${EXTEN},1)

[cc-test-caller]
exten => s,1,Answer()
 same => n,Wait(600)
 same => n,Hangup()

[cc-transfer-sim]
exten => _+49151X.,1,Dial(Local/${EXTEN}@cc-test-staff,30)
 same => n,Hangup()
exten => _+4989X.,1,Dial(Local/${EXTEN}@cc-test-staff,30)
 same => n,Hangup()
; A staff line that is out of order: the network answers congestion.
exten => +4915199999999,1,Congestion(1)

[cc-test-staff]
exten => _+X.,1,Answer()
 same => n,Wait(600)
 same => n,Hangup()
"""


def tenant_doc(slug: str, short: str, did: str, extra: str = "") -> str:
    return TENANT.format(slug=slug, name=slug.title(), short=short, did=did, extra=extra)


@dataclass
class World:
    services: Services
    client: Client
    ami: AmiClient
    registry: TenantRegistry
    prov: Provisioning
    sources: PromptSources
    tokens: dict[str, str]
    agents: dict[str, int]
    pbx: Sandbox

    async def post(self, who: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = await self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        return resp.status, await resp.json()

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        resp = await self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[who]}"})
        return resp.status, await resp.json()

    async def channels(self) -> list[dict[str, str]]:
        events = await self.ami.send_list_action("CoreShowChannels")
        return [dict(m.headers) for m in events if m.name == "CoreShowChannel"]

    async def members(self, queue: str) -> dict[str, dict[str, str]]:
        events = await self.ami.send_list_action("QueueStatus", {"Queue": queue})
        return {m.get("Location") or "": dict(m.headers) for m in events if m.name == "QueueMember"}

    async def call(self, queue: str, tenant: str) -> str:
        """A waiting caller in ``queue``; returns its linkedid."""
        linkedid = f"hi-{uuid.uuid4().hex[:12]}"
        msg = await self.ami.send_action(
            "Originate",
            {
                "Channel": f"Local/{queue}@cc-test-inbound/n",
                "Context": "cc-test-caller",
                "Exten": "s",
                "Priority": "1",
                "ChannelId": linkedid,
                "OtherChannelId": f"{linkedid}-in",
                "CallerID": "Erika <+4915112345678>",
                "Variable": f"_CC_T={tenant}",
                "Async": "true",
            },
        )
        assert msg.get("Response") == "Success", msg
        await until(lambda: self.state_of(linkedid) == "queued", what=f"{linkedid} queued")
        return linkedid

    def state_of(self, linkedid: str) -> str | None:
        from callcontrol.rules import facts_of

        live = self.services.require_pbx().live
        facts = facts_of(live.state, linkedid)
        return facts.state if facts is not None else None

    async def facts(self, linkedid: str) -> Any:
        from callcontrol.http import CALLCONTROL

        return await self.client.app[CALLCONTROL].facts(linkedid)

    async def wait_state(self, linkedid: str, state: str) -> Any:
        async def check() -> bool:
            facts = await self.facts(linkedid)
            return facts is not None and facts.state == state

        await until_async(check, what=f"{linkedid} {state}")
        return await self.facts(linkedid)

    async def bridged(self, a: str, b: str) -> bool:
        """Channels named with prefixes ``a`` and ``b`` share a bridge on the PBX."""
        chans = await self.channels()
        ca = [c for c in chans if c["Channel"].startswith(a) and c.get("BridgeId")]
        cb = [c for c in chans if c["Channel"].startswith(b) and c.get("BridgeId")]
        return any(x["BridgeId"] == y["BridgeId"] for x in ca for y in cb)

    async def hangup_all(self, linkedid: str) -> None:
        for c in await self.channels():
            if c.get("Linkedid") == linkedid:
                await self.ami.send_action("Hangup", {"Channel": c["Channel"]})


async def until(pred: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    async def check() -> bool:
        return pred()

    await until_async(check, what=what, timeout=timeout)


async def until_async(
    pred: Callable[[], Awaitable[bool]], *, what: str, timeout: float = 10.0
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def loaded(sources: PromptSources, *docs: str) -> list[LoadedTenant]:
    return [load_tenant_text(d, sources, f"<test {i}>") for i, d in enumerate(docs)]


@pytest.fixture(scope="module")
async def world(
    pbx: Sandbox, pbx_config: Config, pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    pbx.write_generated("extensions-cc-test.conf", TEST_DIALPLAN)
    pbx.reload("pbx_config")
    for agent in ("agent71", "agent72"):
        pbx.cli(f"devstate change Custom:{agent} NOT_INUSE")
    config = dataclasses.replace(
        pbx_config,
        database=DatabaseConfig(url=pg_url),
        agents=AgentsConfig(transfer_trunk="carrier-test"),
    )
    sources = PromptSources.for_pbx_root(config.pbx.root, tmp_path_factory.mktemp("rec"))
    registry = TenantRegistry()
    items = loaded(
        sources,
        tenant_doc("cc-a", "cca", "+49 30 5550100"),
        tenant_doc("cc-b", "ccb", "+49 30 5550200"),
    )
    services = build_services(config)
    async with services.db.session() as session:
        await save_tenants(session, items)
    registry.replace(items)
    users = UserRepository(services.db)
    ids = {}
    for name, role, slugs in (
        ("anna", "receptionist", ()),
        ("ben", "receptionist", ()),
        ("sue", "supervisor", ()),
        ("ccb-user", "tenant", ("cc-b",)),
        ("cca-user", "tenant", ("cc-a",)),
        ("nobody", "receptionist", ()),
        ("root", "admin", ()),
    ):
        ids[name] = (await users.add(name, PASSWORD, role, tenant_slugs=slugs)).id
    agents = {}
    async with services.db.session() as session:
        queues = {q.name: q.id for q in (await session.scalars(select(Queue))).all()}
        for user, n in (("anna", 71), ("ben", 72)):
            position = Agent(
                user_id=ids[user],
                interface=f"Local/agent{n}@agents/n",
                state_interface=f"Custom:agent{n}",
                name=user.title(),
            )
            session.add(position)
            await session.flush()
            agents[user] = position.id
        session.add(QueueMember(queue_id=queues["q-cca-de"], agent_id=agents["anna"], penalty=0))
        session.add(QueueMember(queue_id=queues["q-cca-en"], agent_id=agents["anna"], penalty=2))
        session.add(QueueMember(queue_id=queues["q-ccb-de"], agent_id=agents["ben"], penalty=0))
    attach_pbx(services)
    services.provide(TENANTS, registry)
    agents_plugin.wire(services)
    callcontrol_plugin.wire(services)
    prov = services.require(PROVISIONING)
    app = build_app(services)
    ami = AmiClient.from_config(config.pbx, events=False)
    await ami.start()
    await ami.wait_connected(10)
    async with TestClient(TestServer(app)) as client:
        await services.require_pbx().ami.wait_connected(10)
        await until(lambda: prov.generation == registry.generation, what="provisioned")
        tokens = {}
        for name in ids:
            resp = await client.post(
                "/api/auth/login", json={"username": name, "password": PASSWORD}
            )
            tokens[name] = (await resp.json())["token"]
        try:
            yield World(services, client, ami, registry, prov, sources, tokens, agents, pbx)
        finally:
            await ami.close()


# ---------------------------------------------------------------------------- provisioning


async def test_tenant_queues_are_provisioned_through_ami(world: World) -> None:
    out = "\n".join(await world.ami.command("queue show q-cca-de"))
    assert "q-cca-de has 0 calls" in out
    assert "'rrmemory' strategy" in out
    conf = world.pbx.instance_dir / "etc" / "generated" / "queues-tenants.conf"
    text = conf.read_text()
    for name in ("q-cca-de", "q-cca-en", "q-ccb-de", "q-ccb-en"):
        assert f"[{name}]" in text
    assert "servicelevel = 20" in text  # spelled out from q-default / cc-queue-defaults
    assert world.services.require_pbx().live.state.queue_tenants["q-ccb-en"] == "cc-b"
    report = await world.prov.provisioner.apply(world.registry.tenants())
    assert report.changed is False  # nothing to do: no reload
    trunk = await world.ami.send_action("Getvar", {"Variable": "CC_TRANSFER_TRUNK"})
    assert trunk.get("Value") == "carrier-test"  # agents.transfer_trunk, a dialplan global
    limit = await world.ami.send_action("Getvar", {"Variable": "CC_MAX_CALL_SECONDS"})
    assert limit.get("Value") == "3600"  # agents.max_call_seconds: Dial S() of every leg


async def test_tenant_reload_adds_and_removes_queues(world: World) -> None:
    extra = '[[routing.queues]]\nname = "q-cca-fr"\nlanguage = "de"\nskill = "french"\n'
    items = loaded(
        world.sources,
        tenant_doc("cc-a", "cca", "+49 30 5550100", extra),
        tenant_doc("cc-b", "ccb", "+49 30 5550200"),
    )
    world.registry.replace(items)
    await until(lambda: world.prov.generation == world.registry.generation, what="reload")
    assert "q-cca-fr has 0 calls" in "\n".join(await world.ami.command("queue show q-cca-fr"))
    world.registry.replace(
        loaded(
            world.sources,
            tenant_doc("cc-a", "cca", "+49 30 5550100"),
            tenant_doc("cc-b", "ccb", "+49 30 5550200"),
        )
    )
    await until(lambda: world.prov.generation == world.registry.generation, what="reload")
    assert "No such queue" in "\n".join(await world.ami.command("queue show q-cca-fr"))


# ---------------------------------------------------------------------------- agents


async def test_login_pause_unpause_logout(world: World) -> None:
    status, body = await world.post("anna", "/api/agents/me/login")
    assert status == 200, body
    assert body["logged_in"] is True
    iface = "Local/agent71@agents/n"
    de, en = await world.members("q-cca-de"), await world.members("q-cca-en")
    assert de[iface]["Name"] == "Anna" and de[iface]["StateInterface"] == "Custom:agent71"
    assert en[iface]["Penalty"] == "2"
    queue_show = "\n".join(await world.ami.command("queue show q-cca-de"))
    assert "Anna (Local/agent71@agents/n from Custom:agent71)" in queue_show

    status, body = await world.post("anna", "/api/agents/me/pause", {"reason": "lunch"})
    assert status == 200, body
    de = await world.members("q-cca-de")
    assert de[iface]["Paused"] == "1" and de[iface]["PausedReason"] == "lunch"

    async def live_paused() -> bool:
        _, agents = await world.get("sue", "/api/agents")
        anna = next(a for a in agents["agents"] if a["interface"] == iface)
        return bool(anna["live"].get("paused")) and anna["live"]["paused_reason"] == "lunch"

    await until_async(live_paused, what="live state shows the pause")

    status, body = await world.post("anna", "/api/agents/me/pause", {"reason": "coffee!"})
    assert status == 400 and "not one of" in body["detail"]
    status, body = await world.post("anna", "/api/agents/me/pause", {})
    assert status == 400 and "reason" in body["detail"]

    status, body = await world.post("anna", "/api/agents/me/unpause")
    assert status == 200 and body["paused"] is False
    assert (await world.members("q-cca-de"))[iface]["Paused"] == "0"

    # One queue only: paused in q-cca-en, still taking calls in q-cca-de.
    status, body = await world.post(
        "anna", "/api/agents/me/pause", {"reason": "training", "queue": "q-cca-en"}
    )
    assert status == 200 and body["paused_queues"] == ["q-cca-en"]
    de, en = await world.members("q-cca-de"), await world.members("q-cca-en")
    assert de[iface]["Paused"] == "0" and en[iface]["Paused"] == "1"
    assert en[iface]["PausedReason"] == "training"
    status, body = await world.post(
        "anna", "/api/agents/me/pause", {"reason": "training", "queue": "q-cca-de"}
    )
    assert body["paused_queues"] == ["q-cca-de", "q-cca-en"]
    status, body = await world.post("anna", "/api/agents/me/unpause", {"queue": "q-cca-en"})
    assert status == 200 and body["paused"] is True and body["paused_queues"] == ["q-cca-de"]
    de, en = await world.members("q-cca-de"), await world.members("q-cca-en")
    assert de[iface]["Paused"] == "1" and en[iface]["Paused"] == "0"
    status, body = await world.post(
        "anna", "/api/agents/me/pause", {"reason": "lunch", "queue": "q-ccb-de"}
    )
    assert status == 400 and "not a member" in body["detail"]

    status, body = await world.post("anna", "/api/agents/me/logout")
    assert status == 200
    assert iface not in await world.members("q-cca-de")
    assert iface not in await world.members("q-cca-en")
    status, body = await world.post("anna", "/api/agents/me/pause", {"reason": "lunch"})
    assert status == 409 and "not logged in" in body["detail"]


async def test_roles_for_agent_operations(world: World) -> None:
    ben = world.agents["ben"]
    status, body = await world.post("anna", f"/api/agents/{ben}/login")
    assert status == 403
    status, body = await world.post("ccb-user", "/api/agents/me/login")
    assert status == 403
    status, body = await world.post("nobody", "/api/agents/me/login")
    assert status == 404 and "no agent position" in body["detail"]
    status, body = await world.post("sue", f"/api/agents/{ben}/login")
    assert status == 200
    assert "Local/agent72@agents/n" in await world.members("q-ccb-de")
    status, body = await world.post("sue", f"/api/agents/{ben}/logout")
    assert status == 200
    status, body = await world.post("sue", "/api/agents/999999/login")
    assert status == 404


async def test_admin_creates_a_position_and_sets_its_queues(world: World) -> None:
    carla = {"name": "Carla", "interface": "Local/agent73@agents/n", "state_interface": ""}
    status, body = await world.post("sue", "/api/agents", carla)
    assert status == 403
    status, body = await world.post("root", "/api/agents", {**carla, "interface": "DAHDI/1"})
    assert status == 400 and "interface" in body["detail"]
    status, body = await world.post("root", "/api/agents", {**carla, "name": "Ca\r\nrla"})
    assert status == 400 and "name" in body["detail"]
    carla["state_interface"] = "Custom:agent73"
    status, body = await world.post("root", "/api/agents", carla)
    assert status == 201, body
    agent_id = body["id"]
    status, body = await world.post("root", "/api/agents", carla)
    assert status == 409 and "already has an agent" in body["detail"]

    async def put(who: str, queues: object) -> tuple[int, Any]:
        resp = await world.client.put(
            f"/api/agents/{agent_id}/queues",
            json={"queues": queues},
            headers={"Authorization": f"Bearer {world.tokens[who]}"},
        )
        return resp.status, await resp.json()

    assert (await put("anna", {"q-cca-de": 1}))[0] == 403
    status, body = await put("sue", {"q-nope": 1})
    assert status == 400 and "no such queue q-nope" in body["detail"]
    status, body = await put("sue", {"q-cca-de": 100})
    assert status == 400 and "penalty" in body["detail"]
    status, body = await put("sue", {"q-cca-de": 1})
    assert status == 200 and body["actions"] == []  # not logged in: nothing on the PBX
    status, body = await world.post("sue", f"/api/agents/{agent_id}/login")
    assert status == 200
    iface = carla["interface"]
    assert (await world.members("q-cca-de"))[iface]["Penalty"] == "1"
    status, body = await put("sue", {"q-cca-en": 3})  # logged in: moved at once
    assert status == 200, body
    assert iface not in await world.members("q-cca-de")
    assert (await world.members("q-cca-en"))[iface]["Penalty"] == "3"
    status, body = await world.post("sue", f"/api/agents/{agent_id}/logout")
    assert status == 200 and iface not in await world.members("q-cca-en")


async def test_agent_names_are_bounded_and_on_one_line(world: World) -> None:
    for name in ("x" * 500, "Anna\u2028Action: Originate", "  "):
        status, body = await world.post(
            "root", "/api/agents", {"name": name, "interface": "Local/agent99@agents/n"}
        )
        assert status == 400 and body["detail"].startswith("name: "), body


async def test_membership_restored_from_database_on_reconnect(world: World) -> None:
    """app_queue forgets runtime members on restart; the reconcile after every AMI login
    (the same listener a reconnect runs) puts them back from the database."""
    iface = "Local/agent71@agents/n"
    await world.post("anna", "/api/agents/me/login")
    await world.post("anna", "/api/agents/me/pause", {"reason": "meeting"})
    # What a PBX restart does to runtime members: they are gone.
    for queue in ("q-cca-de", "q-cca-en"):
        await world.ami.send_action("QueueRemove", {"Queue": queue, "Interface": iface})
    assert iface not in await world.members("q-cca-de")
    await world.prov.sync()
    de, en = await world.members("q-cca-de"), await world.members("q-cca-en")
    assert de[iface]["Paused"] == "1" and de[iface]["PausedReason"] == "meeting"
    assert en[iface]["Penalty"] == "2"
    await world.post("anna", "/api/agents/me/logout")


# ---------------------------------------------------------------------------- call control

CALLER = "Local/q-cca-de@cc-test-inbound"
AGENT = "Local/agent71@agents"


async def _picked_up(world: World) -> str:
    lid = await world.call("q-cca-de", "cc-a")
    status, body = await world.post("anna", f"/api/calls/{lid}/pickup")
    assert status == 200, body
    assert body["was"] == "queued"
    await world.wait_state(lid, "connected")
    assert await world.bridged(CALLER, AGENT)
    return lid


async def _gone(world: World, lid: str) -> None:
    async def check() -> bool:
        chans = await world.channels()
        return world.state_of(lid) is None and not any(c["Linkedid"] == lid for c in chans)

    await until_async(check, what=f"{lid} gone")


async def test_pickup_hold_retrieve_hangup(world: World) -> None:
    lid = await world.call("q-cca-de", "cc-a")
    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"staff": "boss"})
    assert status == 409 and "queued" in body["detail"]
    status, body = await world.post("anna", f"/api/calls/{lid}/hold")
    assert status == 409 and "only a connected call" in body["detail"]

    status, body = await world.post("anna", f"/api/calls/{lid}/pickup")
    assert status == 200, body
    facts = await world.wait_state(lid, "connected")
    assert facts.agent.name.startswith(AGENT)
    assert await world.bridged(CALLER, AGENT)
    status, body = await world.post("ben", f"/api/calls/{lid}/pickup")
    assert status == 409 and "connected" in body["detail"]

    status, body = await world.post("anna", f"/api/calls/{lid}/hold")
    assert status == 200, body
    await world.wait_state(lid, "on hold")
    chans = {c["Channel"]: c for c in await world.channels() if c["Linkedid"] == lid}
    caller = next(c for n, c in chans.items() if n.startswith(CALLER) and n.endswith(";2"))
    agent = next(c for n, c in chans.items() if n.startswith(AGENT) and n.endswith(";1"))
    assert caller["Context"] == "cc-hold" and caller["Application"] == "MusicOnHold"
    assert agent["Context"] == "cc-agent-wait" and not caller.get("BridgeId")

    status, body = await world.post("anna", f"/api/calls/{lid}/retrieve")
    assert status == 200, body
    await world.wait_state(lid, "connected")
    assert await world.bridged(CALLER, AGENT)

    status, body = await world.post("anna", f"/api/calls/{lid}/hangup")
    assert status == 200, body
    await _gone(world, lid)
    # A console pickup is an answer by that receptionist (no AgentConnect from app_queue).
    await world.services.require_pbx().live.wait_written(10)
    record = await CallRepository(world.services.db).get(lid)
    assert record is not None and record.outcome == "answered", record
    assert record.agent == "Anna", record  # the position's name, as after a queue answer
    assert record.answered_at is not None and record.wait_seconds is not None


async def test_retrieve_decided_the_moment_the_hold_shows(world: World) -> None:
    """A retrieve sent on the facts of the very AMI event that shows the caller on hold
    (the fastest a console can react) gets the caller back. The receptionist's leg is then
    not yet in cc-agent-wait, or still in the old bridge: the old code answered 409 ("the
    receptionist's line is gone") or sent a Bridge that the PBX refused ("Unable to add
    Channel1 to bridge", the receptionists benchmark, about one call in 300)."""
    from callcontrol.http import CALLCONTROL
    from callcontrol.rules import facts_of

    pbx = world.services.require_pbx()
    control = world.client.app[CALLCONTROL]
    watching: set[str] = set()
    retrieves: dict[str, asyncio.Task[dict[str, Any]]] = {}

    def on_hold_shown(msg: Message) -> None:
        # Registered after the live state's listener: runs on the state this event left.
        for lid in list(watching):
            facts = facts_of(pbx.live.state, lid)
            if facts is not None and facts.state == "on hold":
                watching.discard(lid)
                retrieves[lid] = asyncio.ensure_future(
                    control.perform(facts, "retrieve", {}, "Local/agent71@agents/n")
                )

    pbx.ami.add_event_listener(on_hold_shown)
    for _ in range(3):
        lid = await _picked_up(world)
        watching.add(lid)
        status, body = await world.post("anna", f"/api/calls/{lid}/hold")
        assert status == 200, body
        await until(lambda: lid in retrieves, what=f"{lid} on hold")  # noqa: B023
        assert (await retrieves[lid])["action"] == "retrieve"
        await world.wait_state(lid, "connected")
        assert await world.bridged(CALLER, AGENT)
        status, body = await world.post("anna", f"/api/calls/{lid}/hangup")
        assert status == 200, body
        await _gone(world, lid)


async def test_held_caller_hanging_up_frees_the_receptionist(world: World) -> None:
    """Issue #8, defect 7: the receptionist's leg waits in cc-agent-wait while the caller is
    held; when the caller hangs up there, that leg ends too (not after Wait(3600))."""
    lid = await _picked_up(world)
    status, body = await world.post("anna", f"/api/calls/{lid}/hold")
    assert status == 200, body
    await world.wait_state(lid, "on hold")
    chans = {c["Channel"]: c for c in await world.channels() if c["Linkedid"] == lid}
    caller = next(n for n in chans if n.startswith(CALLER) and n.endswith(";2"))
    await world.ami.send_action("Hangup", {"Channel": caller, "Cause": "16"}, check=True)
    await _gone(world, lid)


async def test_blind_transfer_to_staff_and_to_queue(world: World) -> None:
    lid = await _picked_up(world)
    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"queue": "q-ccb-de"})
    assert status == 404 and "not a queue of this call's tenant" in body["detail"]
    status, body = await world.post(
        "sue", f"/api/calls/{lid}/transfer", {"number": "+49 900 1234567"}
    )
    assert status == 422 and "premium-rate" in body["detail"]
    status, body = await world.post(
        "anna", f"/api/calls/{lid}/transfer", {"staff": "boss", "number": STAFF}
    )
    assert status == 400 and "exactly one target" in body["detail"]
    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"staff": "nobody"})
    assert status == 404 and "staff directory" in body["detail"]

    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"staff": "boss"})
    assert status == 200 and body["target"] == "Bernd Boss"

    async def with_staff() -> bool:
        # Through cc-blind-transfer's Local leg (rung back if the number fails, defect 8).
        chans = await world.channels()
        staff_up = any(
            c["Channel"].startswith(f"Local/{STAFF}@cc-test-staff") and c.get("BridgeId")
            for c in chans
        )
        return staff_up and await world.bridged(CALLER, f"Local/{STAFF}@cc-transfer")

    await until_async(with_staff, what="caller bridged with the staff member")
    assert not any(
        c["Channel"].startswith(AGENT) and c["Linkedid"] == lid for c in await world.channels()
    )
    await world.hangup_all(lid)
    await _gone(world, lid)

    lid = await _picked_up(world)
    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"queue": "q-cca-en"})
    assert status == 200, body

    async def requeued() -> bool:
        facts = await world.facts(lid)
        return facts is not None and facts.state == "queued" and facts.queue == "q-cca-en"

    await until_async(requeued, what="caller waiting in q-cca-en")
    entries = await world.ami.send_list_action("QueueStatus", {"Queue": "q-cca-en"})
    assert any(
        m.name == "QueueEntry" and (m.get("Channel") or "").startswith(CALLER) for m in entries
    )
    await world.hangup_all(lid)
    await _gone(world, lid)


async def test_attended_transfer_cancel_then_complete(world: World) -> None:
    lid = await _picked_up(world)
    status, body = await world.post("anna", f"/api/calls/{lid}/attended-complete")
    assert status == 409 and "no consultation" in body["detail"]
    status, body = await world.post(
        "anna", f"/api/calls/{lid}/attended-transfer", {"staff": "boss"}
    )
    assert status == 200, body
    await world.wait_state(lid, "consulting")
    consult = f"Local/{STAFF}@cc-transfer"
    assert await world.bridged(AGENT, consult)
    chans = [c for c in await world.channels() if c["Channel"].startswith(CALLER)]
    assert any(c["Application"] == "MusicOnHold" for c in chans)

    status, body = await world.post("anna", f"/api/calls/{lid}/attended-cancel")
    assert status == 200, body
    await world.wait_state(lid, "connected")
    assert await world.bridged(CALLER, AGENT)
    assert not any(c["Channel"].startswith(consult) for c in await world.channels())

    other = "+49 89 1234569"
    status, body = await world.post(
        "anna", f"/api/calls/{lid}/attended-transfer", {"number": other}
    )
    assert status == 422 and body["reason"] == "free_form_role", body  # receptionist
    status, body = await world.post("sue", f"/api/calls/{lid}/attended-transfer", {"number": other})
    assert status == 200 and body["kind"] == "number"
    await world.wait_state(lid, "consulting")
    status, body = await world.post("anna", f"/api/calls/{lid}/attended-complete")
    assert status == 200, body

    async def completed() -> bool:
        chans = await world.channels()
        agent_left = not any(c["Channel"].startswith(AGENT) and c["Linkedid"] == lid for c in chans)
        return agent_left and await world.bridged(CALLER, "Local/+49891234569@cc-transfer")

    await until_async(completed, what="caller bridged with the consulted number")
    await world.hangup_all(lid)
    await _gone(world, lid)


async def test_toll_fraud_destinations_never_reach_the_pbx(world: World) -> None:
    """The security report's transfers (+881 … answered 200 and dialled): now a 422 naming
    why, for supervisors too, and Asterisk never creates a channel for them."""
    dialled: list[str] = []

    def watch(msg: Message) -> None:
        if msg.name in ("Newchannel", "DialBegin"):
            dialled.append(f"{msg.get('Channel')} {msg.get('DestChannel')} {msg.get('Exten')}")

    services_ami = world.services.require_pbx().ami
    services_ami.add_event_listener(watch)  # the app's own client has events on
    lid = await _picked_up(world)
    refused = {
        "+881 6 12345678": "international_network",
        "+870 772 123456": "international_network",
        "+882 1234 5678": "international_network",
        "+53 7 8661234": "country",
        "+252 1 234567": "country",
        "+239 222 1234": "country",
        "+44 70 1234 5678": "personal",
        "0700 12345678": "personal",
        "+49 900 1234567": "premium_rate",
        "112": "emergency",
    }
    for number, reason in refused.items():
        for action in ("attended-transfer", "transfer"):
            status, body = await world.post("sue", f"/api/calls/{lid}/{action}", {"number": number})
            assert (status, body["error"], body["reason"]) == (
                422,
                "destination_refused",
                reason,
            ), (number, body)
            assert body["detail"].startswith("number: ")
    # A staff transfer right after is dialled: the PBX is listening, the refusals were ours.
    status, body = await world.post(
        "anna", f"/api/calls/{lid}/attended-transfer", {"staff": "boss"}
    )
    assert status == 200, body
    await world.wait_state(lid, "consulting")
    assert any(STAFF in line for line in dialled)
    digits = [n.replace(" ", "").lstrip("+0") for n in refused]
    assert not [line for line in dialled for d in digits if d in line.replace("+", "")]
    status, body = await world.post("anna", f"/api/calls/{lid}/attended-cancel")
    assert status == 200, body
    await world.hangup_all(lid)
    await _gone(world, lid)


async def test_every_outgoing_leg_has_an_absolute_limit(world: World) -> None:
    """cc-consult dials with S(${CC_MAX_CALL_SECONDS}): the consulted leg is hung up when the
    limit is reached, nobody cancelling (here 2 s instead of the configured hour)."""
    lid = await _picked_up(world)
    await world.ami.send_action("Setvar", {"Variable": "CC_MAX_CALL_SECONDS", "Value": "2"})
    try:
        status, body = await world.post(
            "anna", f"/api/calls/{lid}/attended-transfer", {"staff": "boss"}
        )
        assert status == 200, body
        await world.wait_state(lid, "consulting")
        consult = f"Local/{STAFF}@cc-transfer"

        async def consult_ended() -> bool:
            return not any(c["Channel"].startswith(consult) for c in await world.channels())

        await until_async(consult_ended, what="consulted leg hung up by the limit", timeout=15)
    finally:
        await world.ami.send_action("Setvar", {"Variable": "CC_MAX_CALL_SECONDS", "Value": "3600"})
    await world.hangup_all(lid)
    await _gone(world, lid)


async def test_park_and_retrieve_from_parking(world: World) -> None:
    lid = await _picked_up(world)
    status, body = await world.post("anna", f"/api/calls/{lid}/unpark")
    assert status == 409 and "only a parked call" in body["detail"]
    status, body = await world.post("anna", f"/api/calls/{lid}/park")
    assert status == 200, body
    await world.wait_state(lid, "parked")
    parked = await world.ami.send_list_action("ParkedCalls")
    slots = [m for m in parked if m.name == "ParkedCall"]
    assert any((m.get("ParkeeChannel") or "").startswith(CALLER) for m in slots)
    assert all(701 <= int(m.get("ParkingSpace") or 0) <= 720 for m in slots)

    status, body = await world.post("anna", f"/api/calls/{lid}/unpark")
    assert status == 200, body
    await world.wait_state(lid, "connected")
    assert await world.bridged(CALLER, AGENT)
    await world.post("anna", f"/api/calls/{lid}/hangup")
    await _gone(world, lid)


async def test_send_to_voicemail(world: World) -> None:
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for _topic, event in world.services.bus.subscribe("calls"):
            events.append(event)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)
    try:
        lid = await world.call("q-cca-de", "cc-a")
        status, body = await world.post("anna", f"/api/calls/{lid}/voicemail")
        assert status == 200, body

        def diverted() -> bool:
            return any(
                e.get("linkedid") == lid and e.get("diverted_to") == "voicemail" for e in events
            )

        await until(diverted, what="call diverted to voicemail")
        await world.hangup_all(lid)
        await _gone(world, lid)
    finally:
        task.cancel()


async def test_call_rights_and_unknown_calls(world: World) -> None:
    lid = await world.call("q-cca-de", "cc-a")
    try:
        status, body = await world.post("ccb-user", f"/api/calls/{lid}/hangup")
        assert status == 404  # another tenant's call: not even its existence leaks
        status, body = await world.post("cca-user", f"/api/calls/{lid}/hangup")
        assert status == 403  # own tenant, but a client's login cannot act on calls
        status, body = await world.post("nobody", f"/api/calls/{lid}/pickup")
        assert status == 409 and "no agent interface" in body["detail"]
        status, body = await world.post("anna", f"/api/calls/{lid}/teleport")
        assert status == 404 and "no action" in body["detail"]
        status, body = await world.post("anna", "/api/calls/no-such-call/hangup")
        assert status == 404
        status, body = await world.post("anna", f"/api/calls/{lid}/pickup", {"agent_id": 1})
        assert status == 403 and "supervisors only" in body["detail"]
        status, body = await world.post("sue", f"/api/calls/{lid}/pickup", {"agent_id": True})
        assert status == 400 and "agent_id: must be an integer" in body["detail"]
        assert world.state_of(lid) == "queued"  # nothing above touched the call
        status, body = await world.post(
            "sue", f"/api/calls/{lid}/pickup", {"agent_id": world.agents["ben"]}
        )
        assert status == 200, body
        await world.wait_state(lid, "connected")
        assert await world.bridged(CALLER, "Local/agent72@agents")
    finally:
        await world.hangup_all(lid)
        await _gone(world, lid)


# ------------------------------------------------- failed transfers (issue #8, defect 8)


async def _live_call(world: World, lid: str) -> dict[str, Any]:
    status, body = await world.get("sue", "/api/live")
    assert status == 200, body
    return dict(body["calls"].get(lid) or {})


async def _events(world: World) -> tuple[list[dict[str, Any]], asyncio.Task[None]]:
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for _topic, event in world.services.bus.subscribe("calls"):
            events.append(event)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0)
    return events, task


async def test_transfer_without_a_route_is_refused_and_the_caller_stays(world: World) -> None:
    """No trunk and no route for the number: 409 naming why, before anything moves (on the
    old code: 200, and the caller heard congestion and was dropped)."""
    lid = await _picked_up(world)
    await world.ami.send_action("Setvar", {"Variable": "CC_TRANSFER_TRUNK", "Value": ""})
    try:
        for action in ("transfer", "attended-transfer"):
            status, body = await world.post(
                "sue", f"/api/calls/{lid}/{action}", {"number": "+49 40 5556667"}
            )
            assert status == 409 and body["error"] == "no_route", body
            assert "+49405556667" in body["detail"] and "stays with you" in body["detail"]
        assert (await world.facts(lid)).state == "connected"
        assert await world.bridged(CALLER, AGENT)
    finally:
        await world.ami.send_action(
            "Setvar", {"Variable": "CC_TRANSFER_TRUNK", "Value": "carrier-test"}
        )
    await world.post("anna", f"/api/calls/{lid}/hangup")
    await _gone(world, lid)


async def test_blind_transfer_that_fails_rings_the_receptionist_again(world: World) -> None:
    """The staff line answers congestion: the caller is not dropped, the receptionist who
    transferred is rung again and talks to the caller, and the console is told why."""
    events, task = await _events(world)
    try:
        lid = await _picked_up(world)
        status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"staff": "broken"})
        assert status == 200, body

        def failed() -> bool:
            return any(
                e.get("type") == "call.transfer_failed" and e.get("linkedid") == lid for e in events
            )

        await until(failed, what="call.transfer_failed event")
        event = next(e for e in events if e.get("type") == "call.transfer_failed")
        assert (event["target"], event["status"]) == ("+4915199999999", "CONGESTION")
        assert "no route" in event["reason"]

        async def back_with_anna() -> bool:
            facts = await world.facts(lid)
            return facts is not None and facts.state == "connected"

        await until_async(back_with_anna, what="caller connected to the receptionist again")
        assert await world.bridged(CALLER, AGENT)
        view = await _live_call(world, lid)
        assert view["transfer_failed"]["target"] == "+4915199999999", view
        assert view["agent"] == "Anna", view
    finally:
        task.cancel()
    await world.post("anna", f"/api/calls/{lid}/hangup")
    await _gone(world, lid)


async def test_attended_transfer_that_fails_brings_the_caller_back(world: World) -> None:
    """The consultation cannot be placed: the held caller is bridged back to the
    receptionist (on the old code the caller stayed on hold music, the receptionist in
    silence, and nobody was told)."""
    lid = await _picked_up(world)
    status, body = await world.post(
        "anna", f"/api/calls/{lid}/attended-transfer", {"staff": "broken"}
    )
    assert status == 200, body

    async def reconnected() -> bool:
        view = await _live_call(world, lid)
        return bool(view.get("transfer_failed")) and await world.bridged(CALLER, AGENT)

    await until_async(reconnected, what="caller bridged back to the receptionist")
    view = await _live_call(world, lid)
    assert view["transfer_failed"]["status"] == "CONGESTION"
    assert view["state"] == "answered", view
    assert (await world.facts(lid)).state == "connected"
    # From here the call goes on as before: hold and retrieve work.
    status, body = await world.post("anna", f"/api/calls/{lid}/hold")
    assert status == 200, body
    await world.wait_state(lid, "on hold")
    status, body = await world.post("anna", f"/api/calls/{lid}/retrieve")
    assert status == 200, body
    await world.wait_state(lid, "connected")
    await world.post("anna", f"/api/calls/{lid}/hangup")
    await _gone(world, lid)


# ------------------------------------------ what /api/live shows (issue #8, defect 7)


async def test_live_view_shows_hold_and_park_and_who_has_the_call(world: World) -> None:
    lid = await _picked_up(world)

    async def live_state(expected: str) -> dict[str, Any]:
        async def check() -> bool:
            return (await _live_call(world, lid)).get("state") == expected

        await until_async(check, what=f"/api/live shows {lid} {expected}")
        return await _live_call(world, lid)

    view = await live_state("answered")
    # A console pickup names the receptionist like a queue answer does: the position.
    assert (view["agent"], view["agent_interface"]) == ("Anna", "Local/agent71@agents/n")
    assert view["on_hold"] is False and view["parked"] is None
    status, body = await world.post("anna", f"/api/calls/{lid}/hold")
    assert status == 200, body
    view = await live_state("on_hold")
    assert view["on_hold"] is True and view["phase"] == "answered"
    status, body = await world.post("anna", f"/api/calls/{lid}/retrieve")
    assert status == 200, body
    await live_state("answered")
    # The view says answered once the caller left hold or the parking lot, a moment before
    # the caller is back in the receptionist's bridge: an action asked for then waits for it
    # (it got 409 "call is answered" in 1 of 6 runs before).
    status, body = await world.post("anna", f"/api/calls/{lid}/park")
    assert status == 200, body
    view = await live_state("parked")
    assert 701 <= int(view["parked"]["space"]) <= 720, view
    status, body = await world.post("anna", f"/api/calls/{lid}/unpark")
    assert status == 200, body
    await live_state("answered")
    # Back into a queue: nobody has the call until someone answers it again.
    status, body = await world.post("anna", f"/api/calls/{lid}/transfer", {"queue": "q-cca-en"})
    assert status == 200, body
    view = await live_state("queued")
    assert view["agent"] is None and view["agent_interface"] is None, view
    await world.hangup_all(lid)
    await _gone(world, lid)
    await world.services.require_pbx().live.wait_written(10)
    record = await CallRepository(world.services.db).get(lid)
    assert record is not None and record.outcome == "answered"
    assert record.agent == "Anna" and record.extra.get("hold_seconds", 0) > 0, record


async def test_a_waiting_caller_hung_up_by_the_receptionist_is_not_an_abandon(
    world: World,
) -> None:
    """The receptionist ended the call, the caller did not give up: stored as ``diverted``
    with cc_outcome ``rejected`` (the old code stored ``abandoned``)."""
    lid = await world.call("q-cca-de", "cc-a")
    status, body = await world.post("anna", f"/api/calls/{lid}/hangup")
    assert status == 200, body
    await _gone(world, lid)
    await world.services.require_pbx().live.wait_written(10)
    record = await CallRepository(world.services.db).get(lid)
    assert record is not None
    assert (record.outcome, record.extra.get("cc_outcome")) == ("diverted", "rejected"), record
