"""IVR benchmark on the real Asterisk: concurrent scripted callers through a tenant's menu.

Starts its own Asterisk instance (``--instance``, ports from ``--port-base``), loads a
tenant whose menu prompt is long, and places ``--calls`` simulated callers at ``--rate``
calls/s. Each caller listens for ``--hold`` seconds, presses 1 (barge-in: stop playback,
set variables, continue into app_queue) and hangs up a few seconds later. Reports the
number of calls held in the IVR at once and the ARI round trip (p50/p99/max) of the
runner's requests only (calls are placed through a separate ARI connection).

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

from callcenter.config import load_config
from callcenter.pbx.ari import AriClient, AriError, AriEvent, AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Scenario, Wait, place_call
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
prompts = ["vm-options"]
options = { "1" = "reception" }
timeout = 30
[flows.reception]
type = "queue"
"""


async def run(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ivr-"))
    base = args.port_base
    config = load_config(None, env={}, overrides={
        "app": {"data_dir": str(data_dir)},
        "pbx": {"instance": args.instance, "ami_port": base + 38, "http_port": base + 88,
                "sip_port": base + 60, "rtp_start": base + 1000, "rtp_end": base + 1999},
    }).with_secrets()
    sandbox = Sandbox(config.pbx, config.app.data_dir)
    sandbox.down()
    sandbox.reset()
    sandbox.up()
    ari = AriClient.from_config(config.pbx)
    placer = AriRest(f"http://{config.pbx.host}:{config.pbx.http_port}",
                     config.pbx.ari_username, config.pbx.ari_password, config.pbx.ari_app)
    try:
        await ari.start()
        await ari.wait_connected(timeout=10.0)
        sources = PromptSources.for_pbx_root(config.pbx.root, data_dir / "recordings")
        registry = TenantRegistry()
        registry.replace([load_tenant_text(TENANT, sources)])
        loads = {"q-default": QueueLoad(1, 1, 0, 0.0)}
        runner = IvrRunner(ari, registry, lambda: loads, clock=lambda: datetime.now(UTC))

        async def handler(event: AriEvent) -> None:
            if event.type == "StasisStart":
                if event.args[:1] == [PURPOSE]:
                    await runner.on_stasis_start(event)
            else:
                await runner.on_event(event)

        ari.add_handler(handler)
        ari.latency.clear()
        peak = 0
        started = time.perf_counter()
        scenario = Scenario(DID, "+4930123456", "Bench", (Wait(args.hold), Dtmf("1"), Wait(3)))

        gate = asyncio.Semaphore(8)  # originates in flight, like a trunk's setup rate
        failed: list[str] = []

        async def one() -> None:
            async with gate:
                try:
                    await place_call(placer, config.pbx, scenario,
                                     f"bench-{uuid.uuid4().hex[:12]}")
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
        while time.perf_counter() < deadline:
            peak = max(peak, runner.active)
            if placing.done() and sum(runner.outcomes.values()) >= args.calls - len(failed):
                break
            await asyncio.sleep(0.05)
        await placing
        elapsed = time.perf_counter() - started
        lat = ari.latency.summary()
        print(f"calls placed          {args.calls} at {args.rate:g}/s, hold {args.hold:g} s")
        print(f"peak concurrent IVR   {peak}  (originate failures: {len(failed)})")
        print(f"outcomes              {dict(sorted(runner.outcomes.items()))}")
        print(f"ARI round trip        n={lat.count} p50={lat.p50 * 1000:.1f} ms "
              f"p99={lat.p99 * 1000:.1f} ms max={lat.max * 1000:.1f} ms")
        print(f"wall time             {elapsed:.1f} s")
    finally:
        await ari.close()
        await placer.close_session()
        sandbox.down()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ivr_calls", description=__doc__)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="calls placed per second")
    ap.add_argument("--hold", type=float, default=15.0, help="seconds in the menu before '1'")
    ap.add_argument("--instance", default="bench_ivr")
    ap.add_argument("--port-base", type=int,
                    default=int(os.environ.get("CALLCENTER_BENCH_PORT_BASE", "24100")))
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
