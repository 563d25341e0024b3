"""IVR benchmark on the real Asterisk: concurrent scripted callers through a tenant's menu.

Starts its own Asterisk instance (``--instance``, ports from ``--port-base``), loads a
tenant whose menu prompt is long, and places ``--calls`` simulated callers at ``--rate``
calls/s. Each caller listens for ``--hold`` seconds, presses 1 (barge-in: stop playback,
set variables, continue into app_queue) and hangs up a few seconds later. Reports the
number of calls held in the IVR at once and the ARI round trip (p50/p99/max) of the
runner's requests only (calls are placed through a separate ARI connection).

Calls are placed in ``alaw`` (``--formats``) like a German trunk: without a format an ARI
originate gets slin192, which costs Asterisk about ten times the CPU (docs/benchmarks.md).
The runner's ARI pool is bounded (``--pool``) below http.conf's ``sessionlimit``. Also
reported: CPU of Asterisk and of this process, and this process's peak RSS.

Usage: ``python -m bench.ivr_calls --calls 200`` (target: 200 concurrent, p99 ≤ 100 ms).
Not part of ``python -m bench`` by default: it occupies the CPU for about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from callcenter.config import load_config
from callcenter.pbx.ari import AriClient, AriError, AriRest
from callcenter.pbx.ari.rest import LatencyStats
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Scenario, Wait, place_call
from callcenter.pbx.stasis import StasisDispatcher
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.routing import QueueLoad
from ivr.stasis import PURPOSE, IvrRunner

SKIP_BY_DEFAULT = True
DID = "+49891239999"
TENANT = """
slug = "bench"
name = "Bench GmbH"
greeting = "Bench"
languages = ["de", "en"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]
[[dids]]
number = "+49 89 1239999"
entry = "main"
[routing]
language_from_number = true
language_by_region = { DE = "de", GB = "en" }
[[routing.queues]]
name = "q-default"
language = "de"
[[routing.queues]]
name = "q-default-en"
language = "en"
[ivr]
entry = "main"
receptionist = "reception"
[flows.main]
type = "menu"
prompts = ["PROMPT"]
options = { "1" = "reception" }
timeout = 30
[flows.reception]
type = "queue"
"""


async def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ivr-"))
    base = args.port_base
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(data_dir)},
            "pbx": {
                "instance": args.instance,
                "ami_port": base + 38,
                "http_port": base + 88,
                "sip_port": base + 60,
                "rtp_start": base + 1000,
                "rtp_end": base + 1999,
            },
        },
    ).with_secrets()
    sandbox = Sandbox(config.pbx, config.app.data_dir)
    sandbox.down()
    sandbox.reset()
    sandbox.up()
    # The runner's HTTP connections to ARI: each is a thread and a session in Asterisk's
    # HTTP server (http.conf sessionlimit), so the pool is bounded and requests queue here.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.pool))
    ari = AriClient.from_config(config.pbx, session=session)
    placer_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8))
    placer = AriRest(
        f"http://{config.pbx.host}:{config.pbx.http_port}",
        config.pbx.ari_username,
        config.pbx.ari_password,
        config.pbx.ari_app,
        session=placer_session,
    )
    try:
        await ari.start()
        await ari.wait_connected(timeout=10.0)
        sources = PromptSources.for_pbx_root(config.pbx.root, data_dir / "recordings")
        registry = TenantRegistry()
        registry.replace([load_tenant_text(TENANT.replace("PROMPT", args.prompt), sources)])
        loads = {"q-default": QueueLoad(1, 1, 0, 0.0)}
        runner = IvrRunner(ari, registry, lambda: loads, clock=lambda: datetime.now(UTC))
        stasis = StasisDispatcher(ari)
        stasis.register(PURPOSE, runner.on_stasis_start)
        ari.add_handler(stasis)
        ari.add_handler(runner.on_event)
        ari.latency = LatencyStats(size=1_000_000)  # every request, not the last 2048
        peak = 0
        started = time.perf_counter()
        formats = tuple(f for f in args.formats.split(",") if f)
        scenario = Scenario(
            DID, args.caller, "Bench", (Wait(args.hold), Dtmf("1"), Wait(3)), formats=formats
        )
        pbx_pid = sandbox.read_pid()
        cpu = CpuMeter(pbx_pid)

        gate = asyncio.Semaphore(8)  # originates in flight, like a trunk's setup rate
        failed: list[str] = []

        async def one() -> None:
            async with gate:
                try:
                    await place_call(placer, config.pbx, scenario, f"bench-{uuid.uuid4().hex[:12]}")
                except AriError as exc:
                    failed.append(str(exc))

        async def place() -> None:
            # Paced, not serialised: a slow originate must not lower the offered rate.
            tasks = []
            for _ in range(args.calls):
                tasks.append(asyncio.create_task(one()))
                await asyncio.sleep(1 / args.rate)
            await asyncio.gather(*tasks)

        placing = asyncio.create_task(place())
        deadline = started + args.calls / args.rate + args.hold + 60
        rss_peak = 0
        while time.perf_counter() < deadline:
            peak = max(peak, runner.active)
            rss_peak = max(rss_peak, rss_bytes())
            cpu.sample()
            if placing.done() and sum(runner.outcomes.values()) >= args.calls - len(failed):
                break
            await asyncio.sleep(0.05)
        await placing
        elapsed = time.perf_counter() - started
        pbx_cpu, app_cpu = cpu.percent()
        lat = ari.latency.summary()
        print(f"calls placed          {args.calls} at {args.rate:g}/s, hold {args.hold:g} s")
        print(f"peak concurrent IVR   {peak}  (originate failures: {len(failed)})")
        print(f"outcomes              {dict(sorted(runner.outcomes.items()))}")
        print(
            f"ARI round trip        n={lat.count} p50={lat.p50 * 1000:.1f} ms "
            f"p99={lat.p99 * 1000:.1f} ms max={lat.max * 1000:.1f} ms"
        )
        print(f"wall time             {elapsed:.1f} s")
        print(
            f"CPU (of one core)     asterisk {pbx_cpu:.0f} %, bench process {app_cpu:.0f} % "
            "(runner + call placer), averaged over the wall time"
        )
        print(
            f"CPU busiest second    asterisk {cpu.peak[0]:.0f} %, bench process {cpu.peak[1]:.0f} %"
        )
        print(f"bench RSS peak        {rss_peak / 2**20:.0f} MB")
        print(
            f"prompt / caller       {args.prompt} / {args.caller}; formats "
            f"{args.formats or 'default'}; ARI pool {args.pool}"
        )
        print(f"load before           {args.load_before}")
    finally:
        await ari.close()
        await session.close()
        await placer_session.close()
        sandbox.down()


def rss_bytes() -> int:
    """Resident set size of this process now (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class CpuMeter:
    """CPU seconds of Asterisk (``/proc/<pid>/stat``, children included) and of this
    process between construction and :meth:`percent`, as % of one core."""

    def __init__(self, pbx_pid: int | None) -> None:
        self.pid = pbx_pid
        self.t0 = time.monotonic()
        self.pbx0 = self._pbx()
        self.app0 = self._app()
        self._last = (self.t0, self.pbx0, self.app0)
        self.peak = (0.0, 0.0)

    def sample(self) -> None:
        """Track the busiest one-second window (call it often)."""
        now = time.monotonic()
        t, pbx, app = self._last
        if now - t < 1.0:
            return
        pbx_now, app_now = self._pbx(), self._app()
        window = ((pbx_now - pbx) / (now - t) * 100, (app_now - app) / (now - t) * 100)
        self.peak = (max(self.peak[0], window[0]), max(self.peak[1], window[1]))
        self._last = (now, pbx_now, app_now)

    def _pbx(self) -> float:
        if self.pid is None:
            return 0.0
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _app() -> float:
        t = os.times()
        return t.user + t.system

    def percent(self) -> tuple[float, float]:
        wall = max(1e-9, time.monotonic() - self.t0)
        return ((self._pbx() - self.pbx0) / wall * 100, (self._app() - self.app0) / wall * 100)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ivr_calls", description=__doc__)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="calls placed per second")
    ap.add_argument("--hold", type=float, default=15.0, help="seconds in the menu before '1'")
    ap.add_argument("--instance", default="bench_ivr")
    ap.add_argument(
        "--prompt",
        default="vm-options",
        help="menu prompt (Asterisk sound; de is GSM only, en also WAV)",
    )
    ap.add_argument(
        "--caller",
        default="+4930123456",
        help="caller number (+44… → English prompts, +49… → German)",
    )
    ap.add_argument(
        "--formats",
        default="alaw",
        help="media formats of the simulated calls (alaw: a German trunk; "
        "'' = Asterisk's default for ARI originates, slin192)",
    )
    ap.add_argument(
        "--pool", type=int, default=32, help="HTTP connections of the runner to ARI (default 32)"
    )
    ap.add_argument(
        "--port-base", type=int, default=int(os.environ.get("CALLCENTER_BENCH_PORT_BASE", "24100"))
    )
    args = ap.parse_args()
    args.load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
