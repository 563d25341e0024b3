"""Benchmark: AMI event → browser for the receptionist console, and page load.

``python -m bench dashboards`` (heavy: ~1 minute; needs /usr/bin/chromium).

The app (AMI client, live state, bus, dashboards hub, aiohttp, SQLite under a temp dir)
runs in this process. A helper process plays Asterisk: an AMI server that streams the
recorded ``answered`` call (tests/fixtures/state/answered.json, 168 events) in ``--lanes``
interleaved copies with fresh ids, at ``--rate`` events/s, every event stamped with its
send time (``Timestamp``, as manager.conf ``timestampevents`` does); the same process holds
``--clients`` minus ``--browsers`` websocket clients of the console. ``--browsers`` real
Chromium pages (Playwright) show the console. Figures:

- event → client: the time from a call's ``QueueCallerJoin`` being sent to its card
  arriving at a websocket client (all clients, every call);
- event → DOM: the same until the card is in a Chromium page's DOM (MutationObserver);
- the app's CPU (cores used) and RSS with the traffic and no clients, then with them;
- first paint, first contentful paint and bytes transferred of the console and the
  wallboard, cold and with the browser cache warm.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import Result

SKIP_BY_DEFAULT = True
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "state" / "answered.json"
_ID = re.compile(r"1795789493\.(\d+)")
_LOCAL = re.compile(r"-0000000([01]);")
_CARD = re.compile(r'beforeend:#calls"><article [^>]*?data-linkedid="([^"]+)"')


# ---------------------------------------------------------------- the helper process


def scenario() -> list[list[tuple[str, str]]]:
    return [[(k, v) for k, v in h] for h in json.loads(FIXTURE.read_text())]


def copy_of(events: list[list[tuple[str, str]]], lane: int, n: int) -> list[list[tuple[str, str]]]:
    """The call with ids of its own: uniqueids, linkedid and Local channel names."""
    base = f"{1_800_000_000 + lane * 100_000 + n}"
    tag = f"{lane:03x}{n:05x}"

    def fix(value: str) -> str:
        value = _ID.sub(lambda m: f"{base}.{m.group(1)}", value)
        return _LOCAL.sub(lambda m: f"-{tag}{m.group(1)};", value)

    return [[(k, fix(v)) for k, v in h] for h in events]


def encode(headers: list[tuple[str, str]], now: float) -> bytes:
    lines = [f"{k}: {f'{now:.6f}' if k == 'Timestamp' else v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def helper(args: argparse.Namespace) -> None:
    """AMI server + websocket clients; reads a go line on stdin, prints results as JSON."""
    import aiohttp

    from callcenter.pbx.ami.message import Message
    from callcenter.pbx.ami.protocol import AmiParser

    events = scenario()
    sent: dict[str, float] = {}  # linkedid -> QueueCallerJoin send time
    writers: list[asyncio.StreamWriter] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AmiParser(expect_greeting=False)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                parser.receive_data(data)
                for msg in parser:
                    if not isinstance(msg, Message):
                        continue
                    action = (msg.get("Action") or "").lower()
                    aid = msg.get("ActionID") or ""
                    if action in ("coreshowchannels", "queuestatus", "queuesummary", "parkedcalls"):
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                            f"Message: ok\r\n\r\nEvent: {msg.get('Action')}Complete\r\n"
                            f"ActionID: {aid}\r\nEventList: Complete\r\n"
                            "ListItems: 0\r\n\r\n".encode()
                        )
                        continue
                    writer.write(
                        f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n".encode()
                    )
                    if action == "login":
                        writer.write(b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\n")
                        writers.append(writer)

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    print(json.dumps({"ami_port": server.sockets[0].getsockname()[1]}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    cfg = json.loads(line)
    received: list[float] = []
    clients_up = 0
    measure_from = float("inf")

    failed: list[str] = []

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal clients_up
        seen: set[str] = set()
        try:
            async with http.ws_connect(
                cfg["ws"],
                headers={"Cookie": f"cc_session={cfg['token']}"},
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
            ) as ws:
                clients_up += 1
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    now = time.time()
                    for lid in _CARD.findall(msg.data):
                        if lid not in seen:
                            seen.add(lid)
                            t0 = sent.get(lid)
                            if t0 is not None and t0 >= measure_from:
                                received.append(now - t0)
        except (aiohttp.ClientError, TimeoutError) as exc:  # counted, not hidden
            failed.append(repr(exc))

    # Lanes start at staggered points of the call, so that joins, answers and hang-ups are
    # spread over time as in real traffic (not all lanes in lockstep). They carry on across
    # the phases: every call has ids never seen before (the live state forgets nothing).
    step = len(events) // args.lanes
    lanes = [iter(copy_of(events, i, 0)[i * step :]) for i in range(args.lanes)]
    counters = [1] * args.lanes

    async def feed(seconds: float) -> None:
        tick = 0.01
        per_tick = max(1, round(args.rate * tick))
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        lane = 0
        total = 0
        while time.monotonic() < end:
            now = time.time()
            chunk = bytearray()
            for _ in range(per_tick):
                for _attempt in range(2):
                    headers = next(lanes[lane], None)
                    if headers is None:
                        lanes[lane] = iter(copy_of(events, lane, counters[lane]))
                        counters[lane] += 1
                        continue
                    break
                assert headers is not None
                if headers[0][1] == "QueueCallerJoin":
                    lid = next(v for k, v in headers if k == "Linkedid")
                    sent[lid] = now
                chunk += encode(headers, now)
                lane = (lane + 1) % args.lanes
                total += 1
            for w in writers:
                w.write(chunk)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        print(json.dumps({"fed": total}), file=sys.stderr, flush=True)

    # limit=0: every websocket holds a pooled connection (the default pool stops at 100)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        print(json.dumps({"ready": True}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # A: traffic, nobody watching
        await feed(cfg["warmup"])
        print(json.dumps({"phase": "A"}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # connect the clients
        tasks = [asyncio.create_task(client(http)) for _ in range(cfg["clients"])]
        while clients_up + len(failed) < cfg["clients"]:  # noqa: ASYNC110  (polled count)
            await asyncio.sleep(0.05)
        print(json.dumps({"clients": clients_up, "failed": failed[:3]}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # B: traffic, everybody watching
        received.clear()
        # the first seconds after the pause are a transient (documented), not the steady state
        measure_from = time.time() + cfg["settle"]
        await feed(cfg["seconds"] + cfg["settle"])
        await asyncio.sleep(1.0)
        for t in tasks:
            t.cancel()
        kept = {lid: t for lid, t in sent.items() if t >= measure_from}
        print(json.dumps({"received": received, "sent": kept}), flush=True)
    server.close()


# ---------------------------------------------------------------- the app side


def _cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


DOM_PROBE = """() => { window.__cards = {};
  new MutationObserver((records) => { const t = Date.now();  // wall clock, like the sender's
    for (const r of records) for (const n of r.addedNodes)
      if (n.nodeType === 1 && n.matches("article.call") && !(n.dataset.linkedid in window.__cards))
        window.__cards[n.dataset.linkedid] = t; })
  .observe(document.getElementById("calls"), { childList: true }); }"""

WS_PROBE = """() => new Promise((r) => {
  const ws = new WebSocket(location.origin.replace("http", "ws") + "/ws/live?view=console");
  ws.onopen = () => r("open"); ws.onclose = (e) => r("close " + e.code);
  setTimeout(() => r("timeout"), 5000); })"""

LOAD_FIGURES = """() => { const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const paint = Object.fromEntries(
    performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
  return { fp: paint["first-paint"], fcp: paint["first-contentful-paint"],
           bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0) }; }"""


async def measure(args: argparse.Namespace) -> list[Result]:
    from aiohttp import web
    from playwright.async_api import async_playwright

    from callcenter.app import build_app
    from callcenter.config import load_config
    from callcenter.db.migrate import upgrade
    from callcenter.db.users import UserRepository
    from callcenter.services import attach_pbx, build_services
    from dashboards import plugin as dashboards_plugin
    from ivr.plugin import TENANTS
    from ivr.registry import TenantRegistry
    from tests.integration.browser import CHROMIUM, FLAGS

    proc = subprocess.Popen(  # noqa: ASYNC220  (started once, before the app)
        [
            sys.executable,
            "-m",
            "bench.dashboards",
            "--helper",
            "--rate",
            str(args.rate),
            "--lanes",
            str(args.lanes),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    loop = asyncio.get_running_loop()

    async def read() -> dict[str, Any]:
        assert proc.stdout is not None
        return dict(json.loads(await loop.run_in_executor(None, proc.stdout.readline)))

    def send(obj: object) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(obj) + "\n")
        proc.stdin.flush()

    ami_port = (await read())["ami_port"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp), "log_level": "warning"},
            "pbx": {
                "ami_port": ami_port,
                "http_port": 9,
                "ami_secret": "bench",
                "ari_password": "bench",
            },
        },
    )
    await asyncio.to_thread(upgrade, config.database_url)
    services = build_services(config)
    await UserRepository(services.db).add("bench", "bench-Passw0rd!", "receptionist")
    attach_pbx(services)
    services.provide(TENANTS, TenantRegistry())  # no tenants: the bench's calls name none
    dashboards_plugin.wire(services)
    app = build_app(services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    results: list[Result] = []
    try:
        await services.require_pbx().ami.wait_connected(10)
        from callcenter import auth

        token, _ = await auth.issue_token(services.db, 1, auth.AuthSettings().token_ttl)
        ws_clients = args.clients - args.browsers
        send(
            {
                "ws": f"ws://127.0.0.1:{port}/ws/live?view=console",
                "token": token,
                "clients": ws_clients,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "settle": args.settle,
            }
        )
        await read()  # ready
        cpu0, wall0 = _cpu_seconds(), time.monotonic()
        send({})  # phase A: the traffic with nobody watching
        await read()
        base_cpu = (_cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        rss_before = _rss_mib()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            cookie = {"name": "cc_session", "value": token, "url": base}
            results += await page_loads(browser, cookie, base)
            pages = []
            for _ in range(args.browsers):
                ctx = await browser.new_context()
                await ctx.add_cookies([cookie])  # type: ignore[list-item]
                page = await ctx.new_page()
                await page.goto(base + "/ui/console")
                if "/ui/console" not in page.url:
                    raise RuntimeError(f"not logged in: {page.url}")
                logs: list[str] = []
                page.on("console", lambda m: logs.append(m.text))  # noqa: B023
                try:
                    await page.wait_for_function(
                        "window.ccLive && window.ccLive.connected", polling=100, timeout=15000
                    )
                except Exception:
                    state = await page.evaluate("() => JSON.stringify(window.ccLive)")
                    probe = await page.evaluate(WS_PROBE)
                    raise RuntimeError(
                        f"page not live: {state} {logs[-5:]} hub={app_hub(app).clients} "
                        f"probe={probe} htmx={await page.evaluate('() => !!window.htmx')}"
                    ) from None
                await page.evaluate(DOM_PROBE)
                pages.append(page)
            send({})  # connect the websocket clients
            connected = await read()
            if connected["failed"]:
                print(f"websocket clients that did not connect: {connected['failed']}")
            cpu1, wall1 = _cpu_seconds(), time.monotonic()
            send({})  # phase B: the same traffic, every client watching
            out = await read()
            busy_cpu = (_cpu_seconds() - cpu1) / (time.monotonic() - wall1)
            rss = _rss_mib()
            sent: dict[str, float] = out["sent"]
            client_ms = [x * 1000 for x in out["received"]]
            dom_ms: list[float] = []
            for page in pages:
                cards: dict[str, float] = await page.evaluate("() => window.__cards")
                dom_ms += [t - sent[lid] * 1000 for lid, t in cards.items() if lid in sent]
            await browser.close()
        n = args.clients
        note = f"{n} clients ({args.browsers} Chromium), {args.rate:.0f} AMI events/s"
        results += [
            Result("dashboards", "event → client p50", pct(client_ms, 0.5), "ms", note),
            Result(
                "dashboards",
                "event → client p99",
                pct(client_ms, 0.99),
                "ms",
                f"{len(client_ms)} cards received",
            ),
            Result("dashboards", "event → DOM p50", pct(dom_ms, 0.5), "ms", "Chromium pages"),
            Result(
                "dashboards",
                "event → DOM p99",
                pct(dom_ms, 0.99),
                "ms",
                f"{len(dom_ms)} cards seen in the DOM",
            ),
            Result(
                "dashboards",
                "app CPU, no clients",
                base_cpu,
                "cores",
                f"{args.rate:.0f} AMI events/s, nobody watching",
            ),
            Result("dashboards", "app CPU with clients", busy_cpu, "cores", note),
            Result(
                "dashboards",
                "app CPU per client",
                (busy_cpu - base_cpu) / n * 1000,
                "millicores",
                "difference of the two, per client",
            ),
            Result("dashboards", "app RSS", rss, "MiB", f"{rss_before:.0f} MiB without clients"),
            Result("dashboards", "app RSS per client", (rss - rss_before) / n * 1024, "KiB", ""),
            Result(
                "dashboards",
                "hub frames",
                float(app_hub(app).frames),
                "frames",
                f"{app_hub(app).events} bus events",
            ),
        ]
    finally:
        proc.kill()
        await runner.cleanup()
    return results


def app_hub(app: Any) -> Any:
    from dashboards.http import HUB

    return app[HUB]


async def page_loads(browser: Any, cookie: dict[str, str], base: str) -> list[Result]:
    out = []
    ctx = await browser.new_context()  # the browser's own first start is not the page's
    await (await ctx.new_page()).goto(base + "/login")
    await ctx.close()
    for path in ("/ui/console", "/ui/wallboard"):
        ctx = await browser.new_context()
        await ctx.add_cookies([cookie])
        page = await ctx.new_page()
        figures = []
        for _ in range(2):  # cold, then with the cache warm (same profile)
            await page.goto(base + path)
            await page.wait_for_load_state("load")
            await page.wait_for_timeout(200)
            figures.append(await page.evaluate(LOAD_FIGURES))
        await ctx.close()
        name = path.rsplit("/", 1)[1]
        out += [
            Result("dashboards", f"{name} first paint", figures[0]["fp"] or 0, "ms", "cold"),
            Result(
                "dashboards", f"{name} first contentful paint", figures[0]["fcp"] or 0, "ms", "cold"
            ),
            Result("dashboards", f"{name} transferred", figures[0]["bytes"] / 1024, "KiB", "cold"),
            Result(
                "dashboards",
                f"{name} transferred, cached",
                figures[1]["bytes"] / 1024,
                "KiB",
                f"first paint {figures[1]['fp'] or 0:.0f} ms",
            ),
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench dashboards", description=__doc__)
    ap.add_argument("--helper", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--browsers", type=int, default=5)
    ap.add_argument("--rate", type=float, default=2000.0, help="AMI events per second")
    ap.add_argument("--lanes", type=int, default=40, help="calls in progress at once")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds of phase B not counted")
    args = ap.parse_args()
    if args.helper:
        asyncio.run(helper(args))
        return
    results = asyncio.run(measure(args))
    for r in results:
        print(f"{r.metric:<36} {r.value:10.2f} {r.unit:<6} {r.note}")


if __name__ == "__main__":
    main()
