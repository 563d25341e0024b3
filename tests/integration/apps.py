"""``callcenter serve`` as a real process, for fault tests that SIGKILL and restart the app.

Configured through ``CALLCENTER__*`` environment variables only: the PBX instance (ports and
the secrets in the session data dir), the database, Redis, the tenant directory and an HTTP
port from the test port range.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxConfig
from callcenter.db import migrate
from callcenter.pbx.sandbox import Sandbox

CALLCENTER = Path(sys.executable).with_name("callcenter")


def app_env(
    config: Config,
    pbx: PbxConfig,
    *,
    port: int,
    database_url: str,
    tenants: Path,
    redis_url: str = "",
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER__")}
    values: dict[str, Any] = {
        "APP__HOST": "127.0.0.1",
        "APP__PORT": port,
        "APP__DATA_DIR": config.app.data_dir,
        "APP__LOG_LEVEL": "info",
        "DATABASE__URL": database_url,
        "REDIS__URL": redis_url,
        "TENANTS__DIRECTORY": tenants,
        "PBX__INSTANCE": pbx.instance,
        "PBX__AMI_PORT": pbx.ami_port,
        "PBX__HTTP_PORT": pbx.http_port,
        "PBX__SIP_PORT": pbx.sip_port,
        "PBX__RTP_START": pbx.rtp_start,
        "PBX__RTP_END": pbx.rtp_end,
        "PBX__RECONNECT_MAX": 1.0,
        "PBX__RECONCILE_GRACE": 1.0,
        "PBX__RECONCILE_INTERVAL": 0.5,
    }
    env.update({f"CALLCENTER__{k}": str(v) for k, v in values.items()})
    return env


async def app_stores(pbx_factory: Callable[[], Sandbox], tmp_path: Path) -> tuple[Sandbox, str]:
    """What one test's ``callcenter serve`` runs on: an Asterisk of the test's own (started)
    and a migrated SQLite file (the URL), so that killing either touches no other test."""
    sandbox = pbx_factory()
    await asyncio.to_thread(sandbox.up)
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    return sandbox, url


@dataclass
class AppProcess:
    """One ``callcenter serve``; ``log`` collects its output across restarts."""

    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "ab") as out:
            out.write(f"\n----- start {self.starts} -----\n".encode())
            self.proc = subprocess.Popen(
                [str(CALLCENTER), "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no cleanup, the websocket and AMI connections just drop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
                body: dict[str, Any] = json.load(resp)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        except (OSError, ValueError):
            return None
        return body

    def component_up(self, name: str) -> bool:
        body = self.health()
        if body is None:
            return False
        return any(c["name"] == name and c["up"] for c in body.get("components", []))

    async def wait_ready(self, component: str = "ari", timeout: float = 30.0) -> float:
        """Seconds until ``component`` reports up; fails with the log's tail otherwise."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"app exited ({self.proc.returncode}):\n{self.tail()}")
            if await asyncio.to_thread(self.component_up, component):
                return time.monotonic() - began
            await asyncio.sleep(0.2)
        raise AssertionError(f"app: {component} not up after {timeout} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def eventually(
    probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0, step: float = 0.2
) -> float:
    """Seconds until ``await probe()`` is true; AssertionError naming ``what`` otherwise."""
    began = time.monotonic()
    while not await probe():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)
    return time.monotonic() - began


class PrivateRedis:
    """A redis-server of the test's own on ``port`` (never the machine's shared one)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["redis-server", *args, "no"], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"private redis-server on {self.port} did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temp dir, trust auth, loopback
    on ``port``), restartable; the machine's shared 5432 is never touched."""

    def __init__(self, port: int) -> None:
        self.port = port
        # Not under pytest's tmp_path: that is private to root, and the server runs as
        # the postgres user.
        self.dir = Path(tempfile.mkdtemp(prefix=f"cc-faults-pg-{port}-"))
        self.data = self.dir / "data"
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not bins:
            raise AssertionError("PostgreSQL server binaries not installed")
        self.bin = bins[-1].parent

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.dir.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def http_get(url: str, token: str | None = None) -> str:
    """Blocking GET (call through ``asyncio.to_thread``)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:
        return str(resp.read().decode())


def login(app: AppProcess, username: str, password: str) -> str:
    """A bearer token from ``POST /api/auth/login`` (blocking)."""
    request = urllib.request.Request(
        f"{app.url}/api/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return str(json.load(resp)["token"])
