"""Benchmark: AMI event → browser for the receptionist console, and page load.

``python -m bench dashboards`` (heavy: ~1 minute; needs /usr/bin/chromium).

The app (AMI client, live state, bus, dashboards hub, aiohttp, SQLite under a temp dir)
runs in this process and nothing else does: around it, a stand-in PBX
(:mod:`bench._dashpeers` ``feeder``: the recorded ``answered`` call in ``--lanes`` staggered
copies at ``--rate`` AMI events/s, every event stamped with its send time), ``--procs``
processes holding ``--clients`` minus ``--browsers`` websocket clients of the console, and
one process driving ``--browsers`` real Chromium pages (:mod:`bench._dashbrowser`). The
load generators run at ``--priority`` (default ``idle``: SCHED_IDLE, they get only the CPU
the app and the stand-in PBX leave): on a receptionist's desk they are other machines,
here they share the app's two cores and must not take them from it. Their timestamps then
wait for the app's busy spells too, which can only lengthen the figures. Figures:

- event → client: from a call's ``QueueCallerJoin`` being sent to its card arriving at a
  websocket client (all clients, every call);
- event → DOM: the same until the card is in a Chromium page's DOM (MutationObserver);
- where that time goes: AMI sent → read by the app, read → the hub's frame, frame → client,
  page socket → DOM; the app's event-loop lag and GC pauses;
- CPU per process (app, stand-in PBX, clients, Chromium) and the app's RSS, with the
  traffic and no clients, then with them; messages and bytes per client;
- first paint, first contentful paint and bytes transferred of the console and the
  wallboard, cold and with the browser cache warm.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time

from bench import Result
from bench._dashapp import PRIORITIES, Peer, Trace, rss_mib, self_cpu, start_app
from bench._procstat import GcPauses, LagMonitor, cores, machine_busy, pct, tree_cpu

SKIP_BY_DEFAULT = True


def _ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def _row(name: str, values: list[float], unit: str = "ms", note: str = "") -> list[Result]:
    return [
        Result("dashboards", f"{name} p50", pct(values, 0.5), unit, note),
        Result("dashboards", f"{name} p99", pct(values, 0.99), unit, f"{len(values)} samples"),
    ]


async def measure(args: argparse.Namespace) -> list[Result]:
    from dashboards.http import HUB

    feeder = Peer(
        "bench._dashpeers", "feeder", "--rate", str(args.rate), "--lanes", str(args.lanes)
    )
    peers = [feeder]
    results: list[Result] = []
    runner = None
    try:
        services, runner, host = await start_app((await feeder.read())["ami_port"])
        hub = runner.app[HUB]
        if args.frame is not None:  # the hub's minimum spacing of frames, for comparison runs
            hub.frame = args.frame / 1000
        trace = Trace(services, hub)
        from callcenter import auth

        token, _ = await auth.issue_token(services.db, 1, auth.AuthSettings().token_ttl)
        me = os.getpid()

        # Phase A: the traffic with nobody watching.
        cpu0, wall0, quiet = self_cpu(), time.monotonic(), LagMonitor()
        quiet.start()
        feeder.send({"seconds": args.warmup})
        await feeder.read()
        base_cpu = (self_cpu() - cpu0) / (time.monotonic() - wall0)
        quiet_lag = quiet.stop()
        rss_before = rss_mib()

        browser = Peer(
            "bench._dashbrowser",
            *("--base", f"http://{host}", "--token", token, "--pages", str(args.browsers)),
            *("--prefix", " ".join(PRIORITIES[args.priority])),
        )
        peers.append(browser)
        ready = await browser.read()
        loads = ready["loads"]
        n_ws = args.clients - args.browsers
        procs = max(1, min(args.procs, n_ws))
        groups = [
            Peer(
                "bench._dashpeers",
                "clients",
                *("--ws", f"ws://{host}/ws/live?view=console", "--token", token),
                *("--count", str(n_ws // procs + (i < n_ws % procs))),
                prefix=PRIORITIES[args.priority],
            )
            for i in range(procs)
        ]
        peers += groups
        for g in groups:
            connected = await g.read()
            if connected["failed"]:
                print(f"websocket clients that did not connect: {connected['failed']}")

        # Phase B: the same traffic, every client watching.
        lag, gcs = LagMonitor(), GcPauses()
        lag.start()
        gcs.start()
        for g in groups:
            g.send({})
        tree0, cpu1, wall1, busy0 = tree_cpu(me), self_cpu(), time.monotonic(), machine_busy()
        feeder.send({"seconds": args.seconds + args.settle, "settle": args.settle})
        fed = await feeder.read()
        await asyncio.sleep(1.0)  # the last frames on their way
        busy_cpu = (self_cpu() - cpu1) / (time.monotonic() - wall1)
        used = cores(tree0, tree_cpu(me), time.monotonic() - wall1)
        machine = (machine_busy() - busy0) / (time.monotonic() - wall1)
        app_lag, app_gc = lag.stop(), gcs.stop()
        # What one full collection of the app's heap costs, CPU time (not the wall clock a
        # busy machine stretches it to): the size of the GC's contribution to the tail.
        gc_cpu = time.process_time()
        gc.collect()
        gc_cpu, gc_objects = time.process_time() - gc_cpu, len(gc.get_objects())
        rss = rss_mib()
        for g in [*groups, browser]:
            g.send({})
        outs = [await g.read() for g in groups]
        pages = await browser.read()
        sent: dict[str, float] = fed["sent"]

        arrived = [c for out in outs for c in out["arrived"]]
        client_s = [t - sent[lid] for c in arrived for lid, t in c.items() if lid in sent]
        dom_s = [t / 1000 - sent[lid] for c in pages["dom"] for lid, t in c.items() if lid in sent]
        read_s = [trace.read[lid] - t for lid, t in sent.items() if lid in trace.read]
        frame_s = [trace.framed[lid] - trace.read[lid] for lid in sent if lid in trace.framed]
        from dashboards.views import element_id

        framed = {element_id("call", lid): t for lid, t in trace.framed.items() if lid in sent}
        first: dict[tuple[str, int], float] = {}  # a card that left and came back: once
        for e, t, c in zip(trace.taken_elems, trace.taken_at, trace.taken_by, strict=True):
            first.setdefault((e, c), t)
        taken_s = [t - framed[e] for (e, _c), t in first.items() if e in framed]
        out_s = [
            t - trace.framed[lid]
            for c in arrived
            for lid, t in c.items()
            if lid in sent and lid in trace.framed
        ]
        page_s = [
            (dom[lid] - arr[lid]) / 1000
            for dom, arr in zip(pages["dom"], pages["arrived"], strict=True)
            for lid in dom
            if lid in arr and lid in sent
        ]
        seconds = args.seconds + args.settle
        messages = sum(o["messages"] for o in outs)
        chars = sum(o["chars"] for o in outs)
        n = args.clients
        note = f"{n} clients ({args.browsers} Chromium), {args.rate:.0f} AMI events/s"
        chromium = sum(v for k, v in used.items() if k.startswith("chromium"))
        results += [
            *_row("event → client", _ms(client_s), note=note),
            *_row("event → DOM", _ms(dom_s), note=f"{args.browsers} Chromium pages"),
            *_row("  AMI sent → app read", _ms(read_s)),
            *_row("  app read → hub frame", _ms(frame_s), note=f"frame {hub.frame * 1000:.0f} ms"),
            *_row("  hub frame → writer took it", _ms(taken_s), note="all clients"),
            *_row("  hub frame → client", _ms(out_s)),
            *_row("  page socket → DOM", _ms(page_s)),
            Result(
                "dashboards",
                "app loop lag p99",
                app_lag["p99"],
                "ms",
                f"max {app_lag['max']:.0f} ms; with nobody watching p99 {quiet_lag['p99']:.0f}, "
                f"max {quiet_lag['max']:.0f} ms",
            ),
            Result(
                "dashboards",
                "app GC pause max",
                app_gc["max"],
                "ms",
                f"{app_gc['count']:.0f} collections, {app_gc['gen2']:.0f} full, "
                f"{app_gc['total']:.0f} ms in all",
            ),
            Result(
                "dashboards",
                "app full GC (CPU time)",
                gc_cpu * 1000,
                "ms",
                f"{gc_objects:,} tracked objects",
            ),
            Result("dashboards", "app CPU, no clients", base_cpu, "cores", "nobody watching"),
            Result("dashboards", "app CPU with clients", busy_cpu, "cores", note),
            Result(
                "dashboards",
                "app CPU per client",
                (busy_cpu - base_cpu) / n * 1000,
                "millicores",
                "difference of the two",
            ),
            Result(
                "dashboards",
                "stand-in PBX CPU",
                fed["cpu"],
                "cores",
                f"loop lag p99 {fed['lag']['p99']:.0f} ms",
            ),
            Result(
                "dashboards",
                "websocket clients CPU",
                sum(o["cpu"] for o in outs),
                "cores",
                f"{procs} processes, priority {args.priority}; loop lag p99 "
                + "/".join(f"{o['lag']['p99']:.0f}" for o in outs)
                + " ms",
            ),
            Result(
                "dashboards",
                "Chromium CPU",
                chromium,
                "cores",
                ", ".join(
                    f"{k[9:]} {v:.2f}" for k, v in sorted(used.items()) if k.startswith("chromium")
                ),
            ),
            Result(
                "dashboards",
                "other processes' CPU",
                machine - sum(used.values()),
                "cores",
                f"the machine was busy {machine:.2f} of {os.cpu_count()} cores in phase B",
            ),
            Result(
                "dashboards",
                "messages per client",
                messages / max(1, n - args.browsers) / seconds,
                "/s",
                f"{chars / max(1, messages) / 1024:.1f} KiB each",
            ),
            Result("dashboards", "app RSS", rss, "MiB", f"{rss_before:.0f} MiB without clients"),
            Result("dashboards", "app RSS per client", (rss - rss_before) / n * 1024, "KiB", ""),
            Result(
                "dashboards", "hub frames", float(hub.frames), "frames", f"{hub.events} bus events"
            ),
        ]
        for name, (cold, warm) in loads.items():
            results += [
                Result("dashboards", f"{name} first paint", cold["fp"] or 0, "ms", "cold"),
                Result(
                    "dashboards", f"{name} first contentful paint", cold["fcp"] or 0, "ms", "cold"
                ),
                Result("dashboards", f"{name} transferred", cold["bytes"] / 1024, "KiB", "cold"),
                Result(
                    "dashboards",
                    f"{name} transferred, cached",
                    warm["bytes"] / 1024,
                    "KiB",
                    f"first paint {warm['fp'] or 0:.0f} ms",
                ),
            ]
    finally:
        for p in peers:
            p.kill()
        if runner is not None:
            await runner.cleanup()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench dashboards", description=__doc__)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--browsers", type=int, default=5)
    ap.add_argument("--procs", type=int, default=4, help="processes holding the websocket clients")
    ap.add_argument(
        "--priority",
        choices=sorted(PRIORITIES),
        default="idle",
        help="of the websocket clients and Chromium (idle: SCHED_IDLE, nice: nice 10)",
    )
    ap.add_argument("--rate", type=float, default=2000.0, help="AMI events per second")
    ap.add_argument("--lanes", type=int, default=40, help="calls in progress at once")
    ap.add_argument("--frame", type=float, default=None, help="hub frame in ms (default: app's)")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of phase B not counted")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    results = asyncio.run(measure(args))
    for r in results:
        print(f"{r.metric:<36} {r.value:10.2f} {r.unit:<6} {r.note}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
