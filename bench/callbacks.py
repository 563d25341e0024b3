"""Callbacks on a real Asterisk: dispatch latency with 1,000 pending over 40 queues, and
callbacks completed end to end (no double dial, served in arrival order).

``python -m bench.callbacks [--queues 40] [--pending 1000] [--database URL]`` (heavy: starts
its own Asterisk instance ``bench_cb`` on ``CALLCENTER_BENCH_PORT_BASE``, default 27000,
and uses SQLite in a temp dir unless ``--database`` names a PostgreSQL URL).

Every callback gets its placeholder in app_queue (the design of ADR 0006); one
auto-answering receptionist per queue then works through its queue's callbacks: it is
connected to the head placeholder, the customer (a Local channel that answers at once and
hangs up after ``--talk`` seconds) is dialled and bridged, the placeholder is hung up, the
receptionist is free again and app_queue offers the next one.

Dispatch latency = receptionist free (AMI ``AgentComplete`` of their previous callback,
as the app receives it) → the next callback offered (the dialler's ``callback.offered``
event, after the lease fence in the database, before the customer is dialled). The first
offer of each receptionist (log-in) is not a "became free" and is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SKIP_BY_DEFAULT = True

DIALPLAN = """
[cc-transfer-sim]
exten => _+49305550XXXX,1,Answer()
 same => n,Wait(${CC_BENCH_TALK})
 same => n,Hangup()
"""


class _Discard:
    async def record_finished(self, record: Any) -> None:
        return None

    async def append_events(self, events: Any) -> None:
        return None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from callbacks.dialer import Dialer
    from callbacks.dispatch import PURPOSE_CUSTOMER, PURPOSE_SLOT, parse_channel_id
    from callbacks.leases import LeaseStore
    from callbacks.plugin import DIALER_AMI_EVENTS, ami_nudge, queue_entries
    from callbacks.store import CallbackRepository, NewCallback
    from callcenter.bus import InProcessBus
    from callcenter.config import load_config
    from callcenter.db.migrate import upgrade
    from callcenter.db.session import Database
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.ari import AriClient
    from callcenter.pbx.sandbox import Sandbox
    from callcenter.pbx.stasis import StasisDispatcher
    from callcenter.state.live import LiveState
    from callcenter.state.service import LiveStateService

    base = int(os.environ.get("CALLCENTER_BENCH_PORT_BASE", "27000"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-cb-"))
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp)},
            "pbx": {
                "instance": "bench_cb",
                "ami_port": base + 38,
                "http_port": base + 88,
                "sip_port": base + 60,
                "rtp_start": base + 200,
                "rtp_end": base + 299,
            },
        },
    ).with_secrets()
    url = args.database or f"sqlite+aiosqlite:///{tmp / 'cb.db'}"
    sandbox = Sandbox(config.pbx, tmp)
    sandbox.down()
    sandbox.reset()
    queues = [f"q-cbb-{i:02d}" for i in range(args.queues)]
    sandbox.write_generated("extensions-bench.conf", DIALPLAN)
    sandbox.write_generated(
        "queues-bench.conf", "".join(f"[{q}](cc-queue-defaults)\n" for q in queues)
    )
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    ami = AmiClient.from_config(config.pbx)
    live = LiveStateService(ami, LiveState(), InProcessBus(), _Discard())
    pbx = config.pbx
    ari = AriClient(
        f"http://{pbx.host}:{pbx.http_port}", pbx.ari_username, pbx.ari_password, "bench-cb"
    )
    offered: dict[int, float] = {}
    offer_order: dict[str, list[int]] = {q: [] for q in queues}
    free_at: dict[str, float] = {}  # agent → when it became free (AgentComplete)
    latencies: list[float] = []
    member_free: dict[str, float] = {}  # agent → app_queue saw it free (QueueMemberStatus)
    from_member: list[float] = []
    free_for_connect: dict[str, float] = {}  # agent → free, until its next AgentConnect
    to_connect: list[float] = []  # the PBX's part: free → AgentConnect received
    # The PBX's part in steps, per agent (one per queue): free (AgentComplete) → app_queue
    # reports the member free (QueueMemberStatus) → the dialler's nudge sent (ARI request
    # begun) → its ARI answer → app_queue rings the member (AgentCalled) → the member leg
    # answers (AgentConnect) → callback.offered.
    step_at: dict[str, dict[str, float]] = {}
    steps: dict[str, list[float]] = {}
    queue_agent = {q: f"agentbench{i:02d}" for i, q in enumerate(queues)}

    def mark(agent: str, step: str) -> None:
        step_at.setdefault(agent, {})[step] = time.perf_counter()

    def span(agent: str, a: str, b: str) -> None:
        marks = step_at.get(agent, {})
        if a in marks and b in marks and marks[b] >= marks[a]:
            steps.setdefault(f"{a}->{b}", []).append(marks[b] - marks[a])

    async def publish(event: str, payload: Mapping[str, Any]) -> None:
        if event == "callback.offered":
            now = time.perf_counter()
            offered[int(payload["id"])] = now
            offer_order[str(payload["queue"])].append(int(payload["id"]))
            agent = str(payload.get("agent") or "")
            mark(agent, "offered")
            span(agent, "connect", "offered")
            if agent in free_at:
                latencies.append(now - free_at.pop(agent))
                if agent in member_free:
                    from_member.append(now - member_free.pop(agent))

    send_dtmf = ari.send_dtmf

    def agent_of(channel_id: str) -> str:
        ref = parse_channel_id(channel_id)
        job = dialer.jobs.get(ref.job_id) if ref is not None else None
        return queue_agent.get(job.queue, "") if job is not None else ""

    async def timed_dtmf(channel_id: str, dtmf: str, *, duration: int | None = None) -> None:
        mark(agent_of(channel_id), "nudge")
        await send_dtmf(channel_id, dtmf, duration=duration)
        mark(agent_of(channel_id), "nudged")

    async def timed_nudge(slot: str) -> None:
        mark(agent_of(slot), "nudge")
        if args.nudge == "ami-send":  # sent out of ;2 (begin and end), not received by ;1
            await ami.send_action(
                "PlayDTMF", {"Channel": slot[:-1] + "b", "Digit": "#", "Duration": "100"}
            )
        else:
            await ami_nudge(ami, slot)
        mark(agent_of(slot), "nudged")

    dialer = Dialer(
        LeaseStore(db, "bench"),
        ari,
        waiting=lambda q: queue_entries(live.state, q),
        caller_id=lambda _t: "+49301110000",
        publish=publish,
        ring_timeout_s=10,
        window=args.window,
        tick_s=0.2,
        reconcile_s=30.0,
        nudge=None if args.nudge == "ari" else timed_nudge,
        nudge_ms=args.nudge_ms,
        slot_formats=tuple(args.slot_formats.split(",")) if args.slot_formats != "auto" else None,
    )
    # Timing only (the bench's probe): the dialler's own call, with its own arguments.
    ari.send_dtmf = timed_dtmf  # type: ignore[method-assign,assignment]
    stasis = StasisDispatcher(ari)
    stasis.register(PURPOSE_SLOT, dialer.on_stasis_start)
    stasis.register(PURPOSE_CUSTOMER, dialer.on_stasis_start)
    ari.add_handler(stasis)
    ari.add_handler(dialer.on_ari_event)

    bridged: dict[str, set[str]] = {}  # bridge id → channel ids (AMI BridgeEnter)

    def on_ami(msg: Any) -> None:
        agent = msg.get("MemberName") or ""
        if msg.name == "BridgeEnter":
            bridged.setdefault(msg.get("BridgeUniqueid") or "", set()).add(
                msg.get("Uniqueid") or ""
            )
        if msg.name == "AgentComplete":
            # Without a Uniqueid when the placeholder's ;1 was gone before app_queue sent
            # the event (about 1 in 20 here); every member call of this bench is a
            # placeholder, so that is a "free" too (left out, the next step spans were
            # measured from the previous call's marks).
            ref = parse_channel_id(msg.get("Uniqueid") or "")
            if not msg.get("Uniqueid") or (ref is not None and ref.role == "slot"):
                free_at[agent] = time.perf_counter()
                free_for_connect[agent] = time.perf_counter()
                step_at[agent] = {"free": time.perf_counter()}
        if msg.name == "AgentCalled" and "free" in step_at.get(agent, {}):
            mark(agent, "called")
        if msg.name == "AgentConnect" and "free" in step_at.get(agent, {}):
            mark(agent, "connect")
            for a, b in (
                ("free", "member"),
                ("member", "nudge"),
                ("nudge", "nudged"),
                ("nudged", "called"),
                ("member", "called"),
                ("called", "connect"),
            ):
                span(agent, a, b)
        if msg.name == "AgentConnect":
            began = free_for_connect.pop(msg.get("MemberName") or "", None)
            if began is not None:
                to_connect.append(time.perf_counter() - began)
        if msg.name == "QueueMemberStatus" and msg.get("Status") == "1":
            member_free[agent] = time.perf_counter()
            if "free" in step_at.get(agent, {}) and "member" not in step_at[agent]:
                mark(agent, "member")
        if msg.name in DIALER_AMI_EVENTS and not (
            args.no_nudge and msg.name == "QueueMemberStatus"
        ):
            asyncio.get_running_loop().create_task(dialer.on_ami_event(msg))

    ami.add_event_listener(on_ami)
    report: dict[str, Any] = {}
    lags: list[float] = []

    async def lag_probe() -> None:  # how late the app's event loop runs a 10 ms timer
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)

    lag_task = asyncio.get_running_loop().create_task(lag_probe())
    try:
        await live.start()
        await ami.start()
        await ami.wait_connected(10)
        await ari.start()
        await ari.wait_connected(10)
        await ami.send_action("Setvar", {"Variable": "CC_BENCH_TALK", "Value": str(args.talk)})
        await ami.send_action("Setvar", {"Variable": "CC_AGENT_TALK_SECONDS", "Value": "600"})
        report["load_avg_1m_start"] = os.getloadavg()[0]
        pid0 = sandbox.read_pid()
        rss_before = _rss_mb(pid0) if pid0 is not None else 0.0
        repo = CallbackRepository(db, max_per_hour=10**6)
        t0 = time.perf_counter()
        ids: list[int] = []
        for n in range(args.pending):
            queue = queues[n % len(queues)]
            number = f"+49305550{n % 10_000:04d}"
            ids.append(await repo.add(NewCallback("bench", number, queue, "de", None, _now())))
        report["store_per_request_ms"] = (time.perf_counter() - t0) * 1000 / args.pending
        t0 = time.perf_counter()
        expected = min(args.pending, len(queues) * args.window)
        placed = 0
        while placed < expected:
            placed += await dialer.place_due()
        report["placeholders"] = placed
        report["place_window_s"] = time.perf_counter() - t0
        # The dialler's own loop moves the window: each hand-over places the next callback.
        await dialer.start()

        def waiting_placeholders() -> int:
            count = 0
            for q in queues:
                state = live.state.queues.get(q)
                if state is not None:
                    count += sum(1 for w in state.waiting if w.startswith("cbq-"))
            return count

        for _ in range(int(args.timeout * 5)):
            if waiting_placeholders() >= expected:
                break
            await asyncio.sleep(0.2)
        report["pending_in_queues"] = waiting_placeholders()
        pid = sandbox.read_pid()
        if pid is not None:  # what 1,000 waiting placeholders cost the PBX
            cpu0, t_idle = _cpu_seconds(pid), time.perf_counter()
            await asyncio.sleep(args.idle)
            report["pbx_cpu_while_waiting_pct"] = (
                100 * (_cpu_seconds(pid) - cpu0) / (time.perf_counter() - t_idle)
            )
            report["pbx_rss_mb_before"] = rss_before
            report["pbx_rss_mb_waiting"] = _rss_mb(pid)
        agents = [f"agentbench{i:02d}" for i in range(len(queues))]
        for name in agents:
            await ami.command(f"devstate change Custom:{name} NOT_INUSE")
        t_start = time.perf_counter()
        for name, queue in zip(agents, queues, strict=True):
            await ami.send_action(
                "QueueAdd",
                {
                    "Queue": queue,
                    "Interface": f"Local/{name}@agents/n",
                    "MemberName": name,
                    "StateInterface": f"Custom:{name}",
                },
            )
        for _ in range(int(args.timeout * 2)):
            if len(offered) >= args.pending:
                break
            await asyncio.sleep(0.5)
        # Let the last conversations finish and be stored.
        await asyncio.sleep(args.talk + 2)
        report["elapsed_s"] = time.perf_counter() - t_start
        async with db.session() as session:
            from sqlalchemy import func, select

            from callbacks.models import CallbackAttempt, CallbackRequest

            done = await session.scalar(
                select(func.count()).where(CallbackRequest.status == "done")
            )
            attempts = await session.scalar(select(func.count()).select_from(CallbackAttempt))
        arrival = {
            q: [i for i in ids if (i - ids[0]) % len(queues) == k] for k, q in enumerate(queues)
        }
        in_order = all(offer_order[q] == arrival[q][: len(offer_order[q])] for q in queues)
        talked = 0  # customer and receptionist really in one bridge (not only "completed")
        for members in bridged.values():
            refs = [parse_channel_id(m) for m in members]
            customers = {r.job_id for r in refs if r is not None and r.role == "customer"}
            slots = {r.job_id for r in refs if r is not None and r.role == "slot-b"}
            talked += len(customers & slots)
        report.update(
            offered=len(offered),
            completed=int(done or 0),
            bridged_with_receptionist=talked,
            attempts=int(attempts or 0),
            dialled=len(dialer.dialled),
            double_dials=len(dialer.dialled) - len(set(dialer.dialled)),
            order_equal_arrival=in_order,
            latency_samples=len(latencies),
            latency_p50_ms=statistics.median(latencies) * 1000 if latencies else float("nan"),
            latency_p99_ms=_pct(latencies, 0.99) * 1000,
            latency_max_ms=max(latencies) * 1000 if latencies else float("nan"),
            member_free_p50_ms=statistics.median(from_member) * 1000 if from_member else 0.0,
            member_free_p99_ms=_pct(from_member, 0.99) * 1000,
            pbx_free_to_connect_p50_ms=statistics.median(to_connect) * 1000 if to_connect else 0.0,
            pbx_free_to_connect_p99_ms=_pct(to_connect, 0.99) * 1000,
            throughput_per_s=len(offered) / report["elapsed_s"],
        )
        for name, values in steps.items():
            report[f"step {name} p50/p99/n"] = (
                f"{statistics.median(values) * 1000:.1f} / {_pct(values, 0.99) * 1000:.1f}"
                f" / {len(values)}"
            )
        report["app_loop_lag_p50_ms"] = statistics.median(lags) * 1000 if lags else 0.0
        report["app_loop_lag_p99_ms"] = _pct(lags, 0.99) * 1000
        report["app_loop_lag_max_ms"] = max(lags) * 1000 if lags else 0.0
        report["load_avg_1m_end"] = os.getloadavg()[0]
    finally:
        lag_task.cancel()
        await dialer.close()
        await ari.close()
        await ami.close()
        await live.close()
        await db.close()
        await asyncio.to_thread(sandbox.down)
    return report


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--queues", type=int, default=40)
    ap.add_argument("--window", type=int, default=5, help="placeholders per queue")
    ap.add_argument("--pending", type=int, default=1000)
    ap.add_argument("--talk", type=float, default=0.5, help="customer talk seconds")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds measured with all waiting")
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: SQLite temp)")
    ap.add_argument("--no-nudge", action="store_true", help="measure app_queue's own pace")
    ap.add_argument("--nudge", choices=("ami", "ami-send", "ari"), default="ami")
    ap.add_argument("--nudge-ms", type=int, default=100, help="ARI nudge digit length")
    ap.add_argument("--slot-formats", default="auto", help="Local pairs: slin16 … (auto: slin192)")
    return ap


def main() -> None:
    args = parser().parse_args()
    report = asyncio.run(run_bench(args))
    width = max(len(k) for k in report)
    for key, value in report.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key.ljust(width)}  {shown}")


if __name__ == "__main__":
    main()
