"""The processes around the app in ``bench dashboards``: the stand-in PBX and the clients.

``python -m bench._dashpeers feeder --rate R --lanes L`` plays Asterisk: an AMI server that
streams the recorded ``answered`` call (tests/fixtures/state/answered.json, 168 events) in
``L`` interleaved copies with fresh ids at ``R`` events/s, every event stamped with its send
time (``Timestamp``, as manager.conf ``timestampevents`` does).

``python -m bench._dashpeers clients --ws URL --token T --count N`` holds ``N`` websocket
clients of the console and notes, per client, when each call's card first arrived. The
benchmark starts several of these, so that parsing a few thousand messages a second on the
measuring side does not queue behind one event loop.

Both talk to the benchmark by JSON lines: they print one when ready and wait for one line
per step on stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import resource
import sys
import time
from pathlib import Path

from bench._procstat import LagMonitor

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "state" / "answered.json"
_ID = re.compile(r"1795789493\.(\d+)")
_LOCAL = re.compile(r"-0000000([01]);")
# An inserted call card: the hub sends an unknown element into its container.
CARD = re.compile(r'beforeend:#calls"><article [^>]*?data-linkedid="([^"]+)"')
Events = list[list[tuple[str, str]]]


def say(obj: object) -> None:
    print(json.dumps(obj), flush=True)


async def step() -> dict[str, float]:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return dict(json.loads(line or "{}"))


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# ---------------------------------------------------------------- the stand-in PBX


def scenario() -> Events:
    return [[(k, v) for k, v in h] for h in json.loads(FIXTURE.read_text())]


def copy_of(events: Events, lane: int, n: int) -> Events:
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


async def feeder(args: argparse.Namespace) -> None:
    from callcenter.pbx.ami.message import Message
    from callcenter.pbx.ami.protocol import AmiParser

    events = scenario()
    sent: dict[str, float] = {}  # linkedid -> QueueCallerJoin send time
    writers: list[asyncio.StreamWriter] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = AmiParser(expect_greeting=False)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
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
    say({"ami_port": server.sockets[0].getsockname()[1]})

    # Lanes start at staggered points of the call, so that joins, answers and hang-ups are
    # spread over time as in real traffic (not all lanes in lockstep). They carry on across
    # the phases: every call has ids never seen before.
    step_len = len(events) // args.lanes
    lanes = [iter(copy_of(events, i, 0)[i * step_len :]) for i in range(args.lanes)]
    counters = [1] * args.lanes

    async def feed(seconds: float) -> int:
        tick = 0.01
        per_tick = max(1, round(args.rate * tick))
        end = time.monotonic() + seconds
        next_at = time.monotonic()
        lane = total = 0
        while time.monotonic() < end:
            now = time.time()
            chunk = bytearray()
            for _ in range(per_tick):
                headers = next(lanes[lane], None)
                if headers is None:  # this lane's call is over: the next one, new ids
                    lanes[lane] = iter(copy_of(events, lane, counters[lane]))
                    counters[lane] += 1
                    headers = next(lanes[lane])
                if headers[0][1] == "QueueCallerJoin":
                    sent[next(v for k, v in headers if k == "Linkedid")] = now
                chunk += encode(headers, now)
                lane = (lane + 1) % args.lanes
                total += 1
            for w in writers:
                w.write(chunk)
            next_at += tick
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return total

    while True:
        cmd = await step()
        if not cmd:
            break
        lag = LagMonitor()
        lag.start()
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        since = time.time() + cmd.get("settle", 0.0)
        fed = await feed(cmd["seconds"])
        cpu = (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        kept = {lid: t for lid, t in sent.items() if t >= since}
        say({"fed": fed, "sent": kept, "cpu": cpu, "lag": lag.stop()})
    server.close()


# ---------------------------------------------------------------- websocket clients


async def clients(args: argparse.Namespace) -> None:
    import aiohttp

    arrived: list[dict[str, float]] = [{} for _ in range(args.count)]  # per client
    up: list[int] = []
    failed: list[str] = []
    counts = [0, 0]  # messages, characters

    async def client(http: aiohttp.ClientSession, seen: dict[str, float]) -> None:
        try:
            async with http.ws_connect(
                args.ws,
                headers={"Cookie": f"cc_session={args.token}"},
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10.0),
            ) as ws:
                up.append(1)
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    now = time.time()
                    counts[0] += 1
                    counts[1] += len(msg.data)
                    for lid in CARD.findall(msg.data):
                        seen.setdefault(lid, now)
        except (aiohttp.ClientError, TimeoutError) as exc:  # counted, not hidden
            failed.append(repr(exc))

    # limit=0: every websocket holds a pooled connection (the default pool stops at 100)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(client(http, seen)) for seen in arrived]
        while len(up) + len(failed) < args.count:  # noqa: ASYNC110  (polled count)
            await asyncio.sleep(0.05)
        say({"clients": len(up), "failed": failed[:3]})
        await step()  # measuring starts
        lag = LagMonitor()
        lag.start()
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        counts[:] = [0, 0]
        await step()  # measuring ends
        cpu = (cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        for t in tasks:
            t.cancel()
        say(
            {
                "arrived": arrived,
                "cpu": cpu,
                "lag": lag.stop(),
                "messages": counts[0],
                "chars": counts[1],
            }
        )


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench._dashpeers")
    ap.add_argument("role", choices=("feeder", "clients"))
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--lanes", type=int, default=40)
    ap.add_argument("--ws", default="")
    ap.add_argument("--token", default="")
    ap.add_argument("--count", type=int, default=0)
    args = ap.parse_args()
    asyncio.run(feeder(args) if args.role == "feeder" else clients(args))


if __name__ == "__main__":
    main()
