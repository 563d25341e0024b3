"""The development sandbox: a real Asterisk 22 in a cached Debian sid root.

The root (``PbxConfig.root``) is built once with debootstrap and stamped. Each instance
(:class:`~callcenter.pbx.runtime.PbxInstance`: layout, rendering, generated includes, reload)
can be started and stopped here, so the demo, the test suite and several developers can run
Asterisk side by side on different ports from the same root. Production code uses
:mod:`callcenter.pbx.runtime` and :mod:`callcenter.pbx.render`, never this module.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from callcenter.pbx.render import PbxError, TemplateError, hold_tones_wav, render_template
from callcenter.pbx.runtime import PbxInstance, alive

__all__ = [
    "PACKAGES",
    "RootStamp",
    "Sandbox",
    "SandboxError",
    "SandboxStatus",
    "TemplateError",
    "hold_tones_wav",
    "render_template",
]

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav", "asterisk-prompt-de")
STAMP_NAME = ".callcenter-root.json"

SandboxError = PbxError
"""The sandbox raises the runtime's error; this is its older name."""


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """What :meth:`Sandbox.status` reports."""

    instance: str
    running: bool
    pid: int | None
    version: str | None
    ami_port: int
    http_port: int
    sip_port: int
    root: Path
    log_file: Path


@dataclass(frozen=True, slots=True)
class RootStamp:
    """The stamp written next to a usable root: what it contains and when it was made."""

    packages: tuple[str, ...]
    asterisk_version: str
    created: float
    adopted: bool  # True: an existing root was detected and stamped, not built by us.


class Sandbox(PbxInstance):
    """One Asterisk instance in the shared Debian root, with its root and its process.

    ``config`` must carry credentials (use ``Config.with_secrets().pbx``).
    """

    # ------------------------------------------------------------------ root
    def stamp(self) -> RootStamp | None:
        """The root's stamp, or None when the root has not been built/adopted yet."""
        path = self.root / STAMP_NAME
        try:
            data = json.loads(path.read_text())
            return RootStamp(
                packages=tuple(data["packages"]),
                asterisk_version=str(data["asterisk_version"]),
                created=float(data["created"]),
                adopted=bool(data.get("adopted", False)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def ensure_root(self) -> RootStamp:
        """Build the Debian root with debootstrap unless a usable one exists; stamp it."""
        existing = self.stamp()
        if existing is not None and (self.root / "usr/sbin/asterisk").exists():
            return existing
        if (self.root / "usr/sbin/asterisk").exists():
            return self._write_stamp(adopted=True)
        if os.geteuid() != 0:
            raise SandboxError(
                f"building the PBX root at {self.root} needs root (debootstrap and chroot); "
                "run `sudo callcenter pbx build` once"
            )
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise SandboxError("debootstrap is not installed: apt-get install debootstrap")
        if self.root.exists() and any(self.root.iterdir()):
            raise SandboxError(
                f"{self.root} exists but holds no usr/sbin/asterisk; remove it or set pbx.root"
            )
        tmp = self.root.with_name(self.root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            "sid",
            str(tmp),
            self.config.mirror,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
            raise SandboxError(f"debootstrap failed (exit {proc.returncode}):\n{tail}")
        if self.root.exists():
            self.root.rmdir()
        tmp.rename(self.root)
        return self._write_stamp(adopted=False)

    def _write_stamp(self, *, adopted: bool) -> RootStamp:
        stamp = RootStamp(
            packages=PACKAGES,
            asterisk_version=self._binary_version(),
            created=time.time(),
            adopted=adopted,
        )
        data = {
            "packages": list(stamp.packages),
            "asterisk_version": stamp.asterisk_version,
            "created": stamp.created,
            "adopted": stamp.adopted,
        }
        (self.root / STAMP_NAME).write_text(json.dumps(data, indent=2) + "\n")
        return stamp

    def _binary_version(self) -> str:
        proc = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-V"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"`asterisk -V` in {self.root} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def reset(self) -> None:
        """Delete the instance's directory (config, astdb, spool, logs). Must be stopped."""
        if self.running():
            raise SandboxError(f"instance {self.config.instance} is running; stop it first")
        shutil.rmtree(self.instance_dir, ignore_errors=True)

    # ------------------------------------------------------------- lifecycle
    def start(self) -> int:
        """Render and launch Asterisk detached (without waiting for boot); return its pid."""
        pid = self.read_pid()
        if pid is not None:
            return pid
        if os.geteuid() != 0:
            raise SandboxError("starting Asterisk in the PBX root needs root (chroot)")
        self.ensure_root()
        self.render()
        self._clean_stale()
        self._check_ports_free()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            out.write(f"\n--- start {time.strftime('%F %T')} ---\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                ["chroot", str(self.root), "asterisk", "-f", "-n", "-C", self.conf_path],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        return self._proc.pid

    def up(self) -> SandboxStatus:
        """Start (if needed) and wait until Asterisk is fully booted and AMI and ARI answer."""
        was_running = self.running()
        self.start()
        try:
            self.wait_booted()
        except BaseException:
            if not was_running:  # do not leave a half-booted process behind
                self.down()
            raise
        return self.status()

    def wait_booted(self, timeout: float | None = None) -> None:
        """Wait for ``core waitfullybooted``, the AMI port and ARI ``/asterisk/info``."""
        timeout = self.config.boot_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        stage = "control socket"
        while True:
            if not self.running():
                raise SandboxError(
                    f"Asterisk instance {self.config.instance} exited during start-up; "
                    f"log tail:\n{self.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(
                    f"Asterisk instance {self.config.instance} not ready after {timeout:.0f} s "
                    f"(waiting for {stage}); log tail:\n{self.log_tail()}"
                )
            try:
                if stage == "control socket":
                    self._rx("core waitfullybooted", timeout=min(remaining, 30.0))
                    stage = "AMI port"
                if stage == "AMI port":
                    _check_ami(self.config.host, self.config.ami_port)
                    stage = "ARI"
                if stage == "ARI":
                    self.ari_info()
                    return
            except (SandboxError, OSError, subprocess.TimeoutExpired):
                time.sleep(0.1)

    def ari_info(self) -> dict[str, object]:
        """GET ``/ari/asterisk/info`` with the configured credentials (sync, for readiness)."""
        c = self.config
        req = urllib.request.Request(f"http://{c.host}:{c.http_port}/ari/asterisk/info")
        token = base64.b64encode(f"{c.ari_username}:{c.ari_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=2.0) as resp:
                data = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise SandboxError(f"ARI answered HTTP {exc.code}") from None
        if not isinstance(data, dict):
            raise SandboxError("ARI /asterisk/info did not return an object")
        return data

    def down(self, timeout: float = 10.0) -> bool:
        """Stop: ``core stop now``, then SIGTERM, then SIGKILL. True if it was running."""
        pid = self.read_pid()
        if pid is None:
            self._clean_stale()
            return False
        with contextlib.suppress(SandboxError, subprocess.TimeoutExpired, OSError):
            self._rx("core stop now", timeout=min(timeout, 5.0))
        if not self._wait_exit(pid, timeout / 2):
            _signal(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout / 2):
                _signal(pid, signal.SIGKILL)
                self._wait_exit(pid, 5.0)
        self._clean_stale()
        return True

    def kill(self) -> None:
        """SIGKILL Asterisk (fault tests). :meth:`start`/:meth:`up` work afterwards."""
        pid = self.read_pid()
        if pid is None:
            return
        _signal(pid, signal.SIGKILL)
        self._wait_exit(pid, 5.0)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not alive(pid):
                return True
            time.sleep(0.05)
        return False

    def _check_ports_free(self) -> None:
        c = self.config
        # The SIP port too: Asterisk starts even when its UDP transport cannot bind, and
        # whoever holds the port then answers the calls and OPTIONS meant for this instance.
        for key, port, kind in (
            ("ami_port", c.ami_port, socket.SOCK_STREAM),
            ("http_port", c.http_port, socket.SOCK_STREAM),
            ("sip_port", c.sip_port, socket.SOCK_DGRAM),
        ):
            with socket.socket(socket.AF_INET, kind) as sock:
                if kind == socket.SOCK_STREAM:  # TIME_WAIT of our own last run is no owner
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((c.host, port))
                except OSError as exc:
                    raise SandboxError(
                        f"pbx.{key} {c.host}:{port} is already in use ({exc.strerror}); "
                        "another Asterisk instance or program holds it: pick other ports"
                    ) from None

    def _clean_stale(self) -> None:
        # A killed Asterisk leaves its pid and control socket behind; a new one must not
        # mistake them for a live instance.
        for name in ("sandbox.pid", "asterisk.pid", "asterisk.ctl"):
            with contextlib.suppress(FileNotFoundError):
                (self.instance_dir / "run" / name).unlink()

    # ----------------------------------------------------------------- query
    def status(self) -> SandboxStatus:
        pid = self.read_pid()
        version = None
        if pid is not None:
            with contextlib.suppress(SandboxError, subprocess.TimeoutExpired):
                version = self._rx("core show version", timeout=5.0).strip() or None
        return SandboxStatus(
            instance=self.config.instance,
            running=pid is not None,
            pid=pid,
            version=version,
            ami_port=self.config.ami_port,
            http_port=self.config.http_port,
            sip_port=self.config.sip_port,
            root=self.root,
            log_file=self.log_file,
        )

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of Asterisk's output and messages log (for error reports)."""
        parts = []
        for path in (self.log_file, self.messages_file):
            try:
                with path.open("rb") as fh:
                    fh.seek(max(0, path.stat().st_size - 16384))  # logs grow across runs
                    text = fh.read().decode("utf-8", "replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"== {path} ==\n" + "\n".join(text))
        return "\n".join(parts) or "(no log yet)"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _check_ami(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=2.0) as sock:
        sock.settimeout(2.0)
        greeting = sock.recv(100)
    if not greeting.startswith(b"Asterisk Call Manager"):
        raise SandboxError(f"port {port} did not greet as AMI: {greeting[:40]!r}")
