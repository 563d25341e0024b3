"""A callback world on the real Asterisk: a queue, auto-answering receptionists and
customers, the live state fed by AMI, and one or more dialler instances on one database.

Receptionists are ``Local/agentcbN@agents/n`` members (state interface ``Custom:agentcbN``);
customers are numbers in ``[cc-transfer-sim]`` that answer (+49305550xxxx), are busy
(+49305560xxxx) or ring without answer (+49305570xxxx); for customer-first callbacks a
person who presses 1 a second after answering (+49305590xxxx), one who presses 1 every
second from the second second on (+49305610xxxx, each press announced by UserEvent
CbPress) and an answering machine that answers and never presses anything (+49305600xxxx).
Every assertion reads the PBX's events or the tables, never a mock.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callbacks.desk import PURPOSE as OFFER_PURPOSE
from callbacks.desk import OfferDesk, QueuePlace
from callbacks.dialer import Dialer
from callbacks.leases import LeaseStore
from callbacks.ordering import Place
from callbacks.plugin import ami_nudge, queue_entries
from callbacks.prompts import Media, install_placeholders
from callbacks.retry import RetryPolicy, RetryRule
from callbacks.store import CallbackRepository
from callcenter.bus import make_bus
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.session import Database
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.stasis import StasisDispatcher
from callcenter.state.live import LiveState
from callcenter.state.service import LiveStateService

CUSTOMERS = """
[cc-transfer-sim]
exten => _+49305550XXXX,1,Answer()
 same => n,Wait(${IF($["${CC_CB_TALK}"=""]?3:${CC_CB_TALK})})
 same => n,Hangup()
exten => _+49305560XXXX,1,Busy(5)
exten => _+49305570XXXX,1,Ringing()
 same => n,Wait(60)
exten => _+49305590XXXX,1,Answer()
 same => n,Wait(1)
 same => n,SendDTMF(1)
 same => n,Wait(30)
 same => n,Hangup()
exten => _+49305610XXXX,1,Answer()
 same => n,Wait(1)
 same => n,Set(CC_CB_I=0)
 same => n(press),Wait(1)
 same => n,UserEvent(CbPress,Number: ${EXTEN})
 same => n,SendDTMF(1)
 same => n,Set(CC_CB_I=$[${CC_CB_I}+1])
 same => n,GotoIf($[${CC_CB_I}<20]?press)
 same => n,Hangup()
exten => _+49305600XXXX,1,Answer()
 same => n,Wait(60)
 same => n,Hangup()
exten => _+49305580XXXX,1,Ringing()
 same => n,Wait(3)
 same => n,Answer()
 same => n,Wait(3)
 same => n,Hangup()

[cc-cb-test-caller]
exten => s,1,Answer()
 same => n,Wait(600)
 same => n,Hangup()

[cc-cb-test-inbound]
exten => _q-.,1,Set(CC_TENANT=${CC_T})
 same => n,Goto(cc-queue,${EXTEN},1)
"""

FAST_RETRY = RetryPolicy(
    {
        "busy": RetryRule(2, 0.0),
        "no_answer": RetryRule(2, 0.0),
        "failed": RetryRule(2, 0.0),
        "machine": RetryRule(1, 0.0),
        "interrupted": RetryRule(3, 0.0),
    }
)


def install_dialplan(pbx: Sandbox) -> None:
    pbx.write_generated("extensions-callbacks-test.conf", CUSTOMERS)
    pbx.reload("pbx_config")


def add_queue(pbx: Sandbox, name: str) -> None:
    pbx.write_generated(f"queues-{name}.conf", f"[{name}](cc-queue-defaults)\n")
    pbx.reload("app_queue")


async def until(
    pred: Callable[[], Awaitable[bool] | bool], *, what: str, timeout: float = 15.0
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = pred()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Instance:
    """One app instance: its own ARI app, dialler and (shared) AMI feed."""

    ari: AriClient
    dialer: Dialer
    stasis: StasisDispatcher
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def close(self) -> None:
        await self.dialer.close()
        await self.ari.close()

    async def crash(self, world: World) -> None:
        """Stop as a killed process would: no lease released, nothing hung up, no more
        events reach it."""
        world.instances.remove(self)
        for task in list(self.tasks):
            task.cancel()
        await self.dialer.close()
        await self.ari.close()


@dataclass
class World:
    pbx: Sandbox
    config: Config
    db: Database
    ami: AmiClient
    live: LiveStateService
    queue: str
    connects: list[str] = field(default_factory=list)  # AgentConnect Uniqueids, in order
    instances: list[Instance] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)  # (event, uniqueid) in order
    bridges: dict[str, set[str]] = field(default_factory=dict)  # bridge id → uniqueids

    def waiting(self, queue: str) -> list[Place]:
        return queue_entries(self.live.state, queue)

    def on_ami(self, msg: Message) -> None:
        uid = msg.get("Uniqueid") or ""
        if msg.name == "AgentConnect":
            self.connects.append(uid)
        if msg.name in ("AgentConnect", "Newchannel"):
            self.log.append((msg.name, uid))
        if msg.name == "BridgeEnter":
            self.bridges.setdefault(msg.get("BridgeUniqueid") or "", set()).add(uid)
        for inst in self.instances:
            task = asyncio.get_running_loop().create_task(inst.dialer.on_ami_event(msg))
            inst.tasks.add(task)
            task.add_done_callback(inst.tasks.discard)

    async def instance(
        self,
        owner: str,
        *,
        policy: RetryPolicy = FAST_RETRY,
        lease_s: float = 30.0,
        main_app: bool = False,
        app: str | None = None,
        tenants: list[str] | None = None,
        **kw: Any,
    ) -> Instance:
        """``main_app``: use the configured ARI app (the dialplan's ``${ari_app}``, where the
        callback key enters Stasis); otherwise an app of its own."""
        pbx = self.config.pbx
        if app is None:
            app = pbx.ari_app if main_app else f"cbtest-{owner}-{uuid.uuid4().hex[:6]}"
        ari = AriClient(
            f"http://{pbx.host}:{pbx.http_port}", pbx.ari_username, pbx.ari_password, app
        )
        dialer = Dialer(
            LeaseStore(self.db, owner, lease_s=lease_s),
            ari,
            waiting=self.waiting,
            # Only this test's tenants: other tests share the session's database.
            open_tenants=lambda _now: tenants,
            caller_id=lambda _t: "+49301110000",
            policy=policy,
            # The production nudge (AMI PlayDTMF Receive on the placeholder's ;1).
            nudge=kw.pop("nudge", lambda slot: ami_nudge(self.ami, slot)),
            ring_timeout_s=kw.pop("ring_timeout_s", 5),
            tick_s=kw.pop("tick_s", 0.2),
            reconcile_s=kw.pop("reconcile_s", 1.0),
            **kw,
        )
        stasis = StasisDispatcher(ari)
        stasis.register("callback-slot", dialer.on_stasis_start)
        stasis.register("callback-customer", dialer.on_stasis_start)
        ari.add_handler(stasis)
        ari.add_handler(dialer.on_ari_event)
        ari.on_connect(dialer.on_ari_connected)
        await ari.start()
        await ari.wait_connected(timeout=10.0)
        inst = Instance(ari, dialer, stasis)
        self.instances.append(inst)
        return inst

    async def agent(self, n: int, talk_s: float = 1.0, name: str | None = None) -> str:
        """Log in an auto-answering receptionist (talks ``talk_s`` then hangs up)."""
        name = name or agent_name(n)
        await self.ami.send_action(
            "Setvar", {"Variable": f"CC_AGENT_TALK_SECONDS_{name}", "Value": str(talk_s)}
        )
        await self.ami.command(f"devstate change Custom:{name} NOT_INUSE")
        msg = await self.ami.send_action(
            "QueueAdd",
            {
                "Queue": self.queue,
                "Interface": f"Local/{name}@agents/n",
                "MemberName": name,
                "StateInterface": f"Custom:{name}",
                "Penalty": "0",
            },
        )
        assert msg.get("Response") == "Success", msg
        self.agents.append(name)
        return name

    async def remove_agents(self) -> None:
        for name in self.agents:
            await self.ami.send_action(
                "QueueRemove", {"Queue": self.queue, "Interface": f"Local/{name}@agents/n"}
            )
        self.agents.clear()

    async def caller(
        self, tenant: str = "cbt", number: str = "+4915112345678", steps: str | None = None
    ) -> str:
        """A live caller waiting in the queue (until hung up); returns its queue channel id.
        ``steps``: a caller script (``w:2^d:*^w:3^d:1^w:30``) run by the caller's side."""
        uid = f"cbc-{uuid.uuid4().hex[:10]}-in"
        variables = f"_CC_T={tenant}"
        if steps is not None:
            variables += f",CC_SIM_STEPS={steps}"
        msg = await self.ami.send_action(
            "Originate",
            {
                "Channel": f"Local/{self.queue}@cc-cb-test-inbound/n",
                "Context": "caller-script" if steps is not None else "cc-cb-test-caller",
                "Exten": "s",
                "Priority": "1",
                "ChannelId": uid.replace("-in", "-out"),
                "OtherChannelId": uid,
                "CallerID": f"Caller <{number}>",
                "Variable": variables,
                "Async": "true",
            },
        )
        assert msg.get("Response") == "Success", msg
        await until(lambda: uid in self.queue_waiting(), what=f"{uid} waiting")
        return uid

    def queue_waiting(self) -> dict[str, float]:
        q = self.live.state.queues.get(self.queue)
        return {w.uniqueid: w.joined_at for w in q.waiting.values()} if q else {}

    def desk(self, inst: Instance, **kw: Any) -> OfferDesk:
        """The callback-key desk of ``inst`` (Stasis purpose ``callback-offer``), prompts
        installed."""
        install_placeholders(self.pbx.sounds_dir)
        desk = OfferDesk(
            inst.ari,
            CallbackRepository(self.db),
            Media(self.pbx.sound_path("callbacks")),
            place_of=self.place_of,
            on_stored=lambda _id: inst.dialer.wake(),
            **kw,
        )
        inst.stasis.register(OFFER_PURPOSE, desk.on_stasis_start)
        inst.ari.add_handler(desk.on_event)
        return desk

    def place_of(self, linkedid: str) -> QueuePlace | None:
        call = self.live.state.calls.get(linkedid)
        if call is None or call.queued_at is None:
            return None
        return QueuePlace(call.queued_at, call.position or 1, 120.0)

    def bridged(self, a: str, b: str) -> bool:
        return any({a, b} <= members for members in self.bridges.values())

    async def channels(self) -> list[dict[str, str]]:
        events = await self.ami.send_list_action("CoreShowChannels")
        return [dict(m.headers) for m in events if m.name == "CoreShowChannel"]

    async def close(self) -> None:
        for inst in self.instances:
            await inst.close()
        await self.remove_agents()


async def make_world(pbx: Sandbox, config: Config, db: Database, queue: str) -> World:
    install_dialplan(pbx)
    add_queue(pbx, queue)
    ami = AmiClient.from_config(config.pbx)
    live = LiveStateService(ami, LiveState(), make_bus(""), CallRepository(db))
    world = World(pbx, config, db, ami, live, queue)
    ami.add_event_listener(world.on_ami)
    await live.start()
    await ami.start()
    await ami.wait_connected(timeout=10.0)
    return world


def agent_name(n: int) -> str:
    """A receptionist name unique to one test (``_age[n]t.`` in ``[agents]`` matches it)."""
    return f"agentcb{uuid.uuid4().hex[:4]}{n}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextlib.asynccontextmanager
async def migrated_db(url: str) -> AsyncIterator[Database]:
    """The test's PostgreSQL database at the schema's head."""
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def world_of(pbx: Sandbox, config: Config, db: Database, prefix: str) -> AsyncIterator[World]:
    """A :func:`make_world` on queue ``<prefix><random>``; afterwards its placeholders and
    customer legs still on the PBX are hung up and the clients closed."""
    w = await make_world(pbx, config, db, f"{prefix}{uuid.uuid4().hex[:6]}")
    try:
        yield w
    finally:
        await w.close()
        for c in await w.channels():
            if c.get("Channel", "").startswith(
                (f"Local/{prefix}", "Local/s@cc-callback", "Local/+49305")
            ):
                await w.ami.send_action("Hangup", {"Channel": c["Channel"]})
        await w.live.close()
        await w.ami.close()
