"""The app's side of ``bench dashboards``: its process, the helper processes, a trace inside.

:class:`Peer` starts a helper (:mod:`bench._dashpeers`, :mod:`bench._dashbrowser`) and
talks JSON lines to it; :func:`start_app` builds the app as ``callcenter serve`` would
(SQLite in a temp dir, the AMI client pointed at the stand-in PBX); :class:`Trace` notes,
inside the app, when each call's join was read, framed and taken by each client's writer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

# How the load generators (websocket clients, Chromium) yield the cores to the app and the
# stand-in PBX: on a receptionist's desk they are other machines, here they share two cores.
PRIORITIES: dict[str, tuple[str, ...]] = {
    "normal": (),
    "nice": ("nice", "-n", "10"),
    "idle": ("chrt", "--idle", "0"),  # SCHED_IDLE: only CPU nobody else wants
}


class Peer:
    """A helper process spoken to by JSON lines (see :mod:`bench._dashpeers`)."""

    def __init__(self, module: str, *args: str, prefix: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def read(self) -> dict[str, Any]:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        line = await asyncio.get_running_loop().run_in_executor(None, out.readline)
        if not line:
            raise RuntimeError(f"{self.proc.args!r} ended (rc {self.proc.poll()})")
        return dict(json.loads(line))

    def send(self, obj: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def self_cpu() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def start_app(ami_port: int) -> tuple[Any, Any, str]:
    from aiohttp import web

    from callcenter.app import build_app, freeze_startup_heap
    from callcenter.config import load_config
    from callcenter.db.migrate import upgrade
    from callcenter.db.users import UserRepository
    from callcenter.services import attach_pbx, build_services
    from dashboards import plugin as dashboards_plugin
    from ivr.plugin import TENANTS
    from ivr.registry import TenantRegistry

    tmp = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp), "log_level": "warning"},
            "pbx": {"ami_port": ami_port, "http_port": 9, "ami_secret": "b", "ari_password": "b"},
        },
    )
    await asyncio.to_thread(upgrade, config.database_url)
    services = build_services(config)
    await UserRepository(services.db).add("bench", "bench-Passw0rd!", "receptionist")
    attach_pbx(services)
    services.provide(TENANTS, TenantRegistry())  # no tenants: the bench's calls name none
    dashboards_plugin.wire(services)
    app = build_app(services)
    app.on_startup.append(freeze_startup_heap)  # as ``callcenter serve`` does
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await services.require_pbx().ami.wait_connected(10)
    return services, runner, f"127.0.0.1:{port}"


class Trace:
    """Inside the app: when a call's join was read from AMI, when a frame carried it and
    when each client's writer took the card to send (two flat lists: no GC-tracked objects
    per sample, the app's GC figures stay the app's)."""

    def __init__(self, services: Any, hub: Any) -> None:
        from dashboards.client import Client

        self.read: dict[str, float] = {}
        self.framed: dict[str, float] = {}
        self.taken_elems: list[str] = []
        self.taken_at: list[float] = []
        self.taken_by: list[int] = []  # id() of the client
        services.require_pbx().ami.add_event_listener(self.on_ami)
        flush, take = hub.flush, Client.take
        elems, times, by = self.taken_elems, self.taken_at, self.taken_by

        def taking(client: Client) -> str:
            now = time.time()
            for elem, (container, html) in client.pending.items():
                if container == "calls" and html is not None and elem not in client.known:
                    elems.append(elem)
                    times.append(now)
                    by.append(id(client))
            return take(client)

        Client.take = taking  # type: ignore[method-assign,assignment]  # only the app runs here

        def traced() -> None:
            now = time.time()
            for lid in hub._dirty["call"]:
                if lid in self.read and lid not in self.framed:
                    self.framed[lid] = now
            flush()

        hub.flush = traced  # the frames loop calls self.flush()

    def on_ami(self, msg: Any) -> None:
        if msg.name == "QueueCallerJoin":
            self.read.setdefault(msg.get("Linkedid") or "", time.time())
