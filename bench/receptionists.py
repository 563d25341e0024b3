"""Receptionist operations on a real Asterisk: queue provisioning, membership, call control.

``python -m bench receptionists`` (heavy: starts its own Asterisk instance ``bench_recep`` on
``CALLCENTER_BENCH_PORT_BASE`` (default 27000) and an SQLite database in a temp dir).

Figures: provisioning N tenant queues through AMI UpdateConfig (cold, and the no-change
check); agent log-in (database write + QueueStatus + QueueAdd per queue); restoring every
membership after the PBX lost them (the reconcile run on each AMI connect) and the no-op
reconcile; and call control latency from the request to the new state seen in the live
state (pickup → connected, hold → on hold, retrieve → connected, hang-up → gone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP_BY_DEFAULT = True

DIALPLAN = """
[cc-test-inbound]
exten => _q-.,1,Set(CC_TENANT=bench)
 same => n,Goto(cc-queue,${EXTEN},1)
[cc-test-caller]
exten => s,1,Answer()
 same => n,Wait(600)
"""


@dataclass(frozen=True)
class _Rule:
    name: str


@dataclass(frozen=True)
class _Routing:
    queues: tuple[_Rule, ...]


@dataclass(frozen=True)
class _Tenant:
    slug: str
    routing: _Routing


class _Discard:
    """Finished calls and call events are not what this benchmark measures."""

    async def record_finished(self, record: Any) -> None:
        return None

    async def append_events(self, events: Any) -> None:
        return None


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def run(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from agents.provisioning import QueueProvisioner
    from agents.service import AgentService
    from callcenter.bus import InProcessBus
    from callcenter.config import load_config
    from callcenter.db.migrate import upgrade
    from callcenter.db.models import Agent, Queue, QueueMember
    from callcenter.db.session import Database
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.sandbox import Sandbox
    from callcenter.state.live import LiveState
    from callcenter.state.service import LiveStateService
    from callcontrol.service import CallControl

    base = int(os.environ.get("CALLCENTER_BENCH_PORT_BASE", "27000"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-recep-"))
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp)},
            "pbx": {
                "instance": "bench_recep",
                "ami_port": base + 38,
                "http_port": base + 88,
                "sip_port": base + 60,
                "rtp_start": base + 1000,
                "rtp_end": base + 1099,
            },
        },
    ).with_secrets()
    sandbox = Sandbox(config.pbx, tmp)
    sandbox.down()
    sandbox.reset()
    sandbox.write_generated("extensions-bench.conf", DIALPLAN)
    await asyncio.to_thread(sandbox.up)
    db = Database(config.database_url)
    ami = AmiClient.from_config(config.pbx)
    live = LiveStateService(ami, LiveState(), InProcessBus(), _Discard())
    try:
        await asyncio.to_thread(upgrade, config.database_url)
        await live.start()
        await ami.start()
        await ami.wait_connected(10)
        await asyncio.sleep(0.5)  # FullyBooted + resync
        names = [f"q-bench-{i:03d}" for i in range(args.queues)]
        tenant = _Tenant("bench", _Routing(tuple(_Rule(n) for n in names)))
        prov = QueueProvisioner(ami)
        t0 = time.perf_counter()
        await prov.apply([tenant])
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = await prov.apply([tenant])
        noop = time.perf_counter() - t0
        print(
            f"provision {args.queues} queues: {cold * 1000:.0f} ms cold, "
            f"{noop * 1000:.1f} ms when unchanged (changed={again.changed})"
        )

        per = args.queues_per_agent
        async with db.session() as session:
            for n in names:
                session.add(Queue(name=n))
            await session.flush()
            qids = {q.name: q.id for q in (await session.scalars(select(Queue))).all()}
            for a in range(args.agents):
                agent = Agent(
                    interface=f"Local/agent{100 + a}@agents/n",
                    state_interface=f"Custom:agent{100 + a}",
                    name=f"Bench {a}",
                )
                session.add(agent)
                await session.flush()
                for k in range(per):
                    q = names[(a + k) % len(names)]
                    session.add(QueueMember(queue_id=qids[q], agent_id=agent.id, penalty=k))
        service = AgentService(db, ami, ("break", "lunch"))
        async with db.session() as session:
            ids = list(await session.scalars(select(Agent.id).order_by(Agent.id)))
        logins = []
        for agent_id in ids:
            t0 = time.perf_counter()
            await service.login(agent_id)
            logins.append(time.perf_counter() - t0)
        print(
            f"log-in ({per} queues each, {len(ids)} agents): "
            f"p50 {pct(logins, 50) * 1000:.1f} ms, p99 {pct(logins, 99) * 1000:.1f} ms"
        )
        pauses = []
        for agent_id in ids:
            t0 = time.perf_counter()
            await service.pause(agent_id, "lunch")
            pauses.append(time.perf_counter() - t0)
        print(
            f"pause with reason: p50 {pct(pauses, 50) * 1000:.1f} ms, "
            f"p99 {pct(pauses, 99) * 1000:.1f} ms"
        )
        for agent_id in ids:  # what a PBX restart does: runtime members are gone
            spec = await service.spec(agent_id)
            for q in spec.queues:
                await ami.send_action("QueueRemove", {"Queue": q, "Interface": spec.interface})
        t0 = time.perf_counter()
        sent = await service.reconcile_all()
        restore = time.perf_counter() - t0
        t0 = time.perf_counter()
        await service.reconcile_all()
        idle = time.perf_counter() - t0
        print(
            f"restore {len(ids)} agents x {per} queues ({sent} AMI actions): "
            f"{restore * 1000:.0f} ms; no-op reconcile {idle * 1000:.0f} ms"
        )
        for agent_id in ids:
            await service.logout(agent_id)

        await _calls(args, ami, live, CallControl(ami, live, lambda _s: None), names[0])
    finally:
        await ami.close()
        await live.close()
        await db.close()
        await asyncio.to_thread(sandbox.down)
        await asyncio.to_thread(sandbox.reset)


async def _calls(args: argparse.Namespace, ami: Any, live: Any, control: Any, queue: str) -> None:
    from callcontrol.rules import facts_of

    async def until(lid: str, state: str | None) -> None:
        deadline = time.monotonic() + 10
        while True:
            f = facts_of(live.state, lid)
            if (f.state if f else None) == state:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{lid}: no {state} (is {f.state if f else None})")
            await asyncio.sleep(0.002)

    timings: dict[str, list[float]] = {k: [] for k in ("pickup", "hold", "retrieve", "hangup")}
    for _ in range(args.calls):
        lid = f"b-{uuid.uuid4().hex[:10]}"
        await ami.send_action(
            "Originate",
            {
                "Channel": f"Local/{queue}@cc-test-inbound/n",
                "Context": "cc-test-caller",
                "Exten": "s",
                "Priority": "1",
                "ChannelId": lid,
                "Async": "true",
                "CallerID": "Bench <+4915112345678>",
            },
        )
        await until(lid, "queued")
        for action, state in (
            ("pickup", "connected"),
            ("hold", "on hold"),
            ("retrieve", "connected"),
            ("hangup", None),
        ):
            facts = await control.facts(lid)
            t0 = time.perf_counter()
            await control.perform(facts, action, {}, "Local/agent99@agents/n")
            await until(lid, state)
            timings[action].append(time.perf_counter() - t0)
    for action, values in timings.items():
        print(
            f"{action:<8} → state seen in live state: p50 {pct(values, 50) * 1000:.1f} ms, "
            f"p99 {pct(values, 99) * 1000:.1f} ms, mean {statistics.mean(values) * 1000:.1f} ms"
            f" ({len(values)} calls)"
        )


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--queues", type=int, default=40)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--queues-per-agent", type=int, default=5)
    ap.add_argument("--calls", type=int, default=30)
    return ap


def main() -> None:
    asyncio.run(run(parser().parse_args()))


if __name__ == "__main__":
    main()
