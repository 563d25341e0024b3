"""A real Asterisk 22 in a cached Debian sid root, one or more instances at a time.

The root (``PbxConfig.root``) is built once with debootstrap and stamped. Each instance
(``PbxConfig.instance``) lives in ``ROOT/srv/callcenter/<instance>/`` with its own etc, run,
spool, log and lib directories, rendered from the templates in ``config/asterisk``; so the
demo, the test suite and several developers can run Asterisk side by side on different
ports from the same root.

Templates are :class:`string.Template` files with lower-case ``${name}`` placeholders filled
from :class:`~callcenter.config.PbxConfig`; upper-case ``${NAME}`` (dialplan variables) and
``$[...]`` pass through untouched. Features add configuration without touching templates
through :meth:`Sandbox.write_generated` (files that the templates ``#tryinclude``) and
:meth:`Sandbox.reload`.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import string
import struct
import subprocess
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from callcenter.config import PbxConfig

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav", "asterisk-prompt-de")
STAMP_NAME = ".callcenter-root.json"
SECRET_KEYS = ("ami_secret", "ari_password")
"""Template placeholders holding credentials: files using one are written mode 0600."""
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "config" / "asterisk"
INSTANCES_DIR = "srv/callcenter"
INSTANCE_SUBDIRS = (
    "etc",
    "etc/generated",
    "run",
    "spool",
    "spool/recording",  # ARI stored recordings; Asterisk does not create it
    "spool/monitor",
    "spool/tmp",
    "log",
    "lib",
    "lib/keys",
    "cache",
    "moh",
    "sounds",
)
_GENERATED_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.conf$")


class SandboxError(RuntimeError):
    """The sandbox could not be built, rendered, started or queried; the message says why."""


class TemplateError(SandboxError):
    """A template referenced an unknown placeholder or could not be read."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = file
        self.key = key
        super().__init__(f"template {file}: placeholder ${{{key}}}: {reason}")


class _ConfTemplate(string.Template):
    # Only lower-case braced names are placeholders; ${EXTEN}, $[...] and $VAR stay literal.
    delimiter = "$"
    pattern = r"""
        \$(?:
          (?P<escaped>\$)
        | \{(?P<braced>[a-z][a-z0-9_]*)\}
        | (?P<named>(?!))
        | (?P<invalid>(?!))
        )
    """  # type: ignore[assignment]
    flags = re.VERBOSE


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


class Sandbox:
    """One Asterisk instance in the shared Debian root.

    ``config`` must carry credentials (use ``Config.with_secrets().pbx``).
    """

    def __init__(
        self, config: PbxConfig, data_dir: Path, templates: Path = DEFAULT_TEMPLATES
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.templates = templates
        self.root = config.root
        self.instance_rel = f"/{INSTANCES_DIR}/{config.instance}"
        self.instance_dir = self.root / INSTANCES_DIR / config.instance
        self._proc: subprocess.Popen[bytes] | None = None

    # ----------------------------------------------------------------- paths
    @property
    def conf_path(self) -> str:
        """asterisk.conf as seen inside the root (for ``asterisk -C``)."""
        return f"{self.instance_rel}/etc/asterisk.conf"

    @property
    def log_file(self) -> Path:
        """Asterisk's stdout/stderr (start-up failures land here)."""
        return self.instance_dir / "log" / "asterisk.out"

    @property
    def messages_file(self) -> Path:
        return self.instance_dir / "log" / "messages"

    @property
    def queue_log(self) -> Path:
        return self.instance_dir / "log" / "queue_log"

    @property
    def pid_file(self) -> Path:
        return self.instance_dir / "run" / "sandbox.pid"

    @property
    def sounds_dir(self) -> Path:
        """Host path of the instance's own sound directory (see :meth:`sound_path`)."""
        return self.instance_dir / "sounds"

    def sound_path(self, name: str) -> str:
        """Path Asterisk uses (inside the root, no extension) for a file in :attr:`sounds_dir`."""
        return f"{self.instance_rel}/sounds/{name}"

    @property
    def recordings_dir(self) -> Path:
        """Where ARI stored recordings of this instance end up (host path)."""
        return self.instance_dir / "spool" / "recording"

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

    # ---------------------------------------------------------------- render
    def values(self) -> dict[str, str]:
        """Placeholder values for the templates."""
        c = self.config
        if not c.ami_secret or not c.ari_password:
            raise SandboxError("PBX credentials are empty: pass Config.with_secrets().pbx")
        return {
            "instance": c.instance,
            "instance_dir": self.instance_rel,
            "host": c.host,
            "sip_host": c.sip_host or c.host,
            "ami_permit": c.ami_permit_mask,
            "ami_port": str(c.ami_port),
            "http_port": str(c.http_port),
            "sip_port": str(c.sip_port),
            "rtp_start": str(c.rtp_start),
            "rtp_end": str(c.rtp_end),
            "ami_username": c.ami_username,
            "ami_secret": c.ami_secret,
            "ari_username": c.ari_username,
            "ari_password": c.ari_password,
            "ari_app": c.ari_app,
            "inbound_context": c.inbound_context,
        }

    def render(self) -> list[Path]:
        """Write every ``templates/*.conf`` into the instance's etc dir; return the paths."""
        return self._render_into(self.instance_dir, self.values())

    def export(self, target: Path) -> list[Path]:
        """Render a self-contained instance directory at ``target`` for an Asterisk outside
        the sandbox (a container or a host install): ``asterisk -C <target>/etc/asterisk.conf``.
        Paths inside the files are ``target`` itself, so mount it at the same path."""
        values = self.values()
        values["instance_dir"] = str(target.resolve())
        return self._render_into(target, values)

    def _render_into(self, instance_dir: Path, values: dict[str, str]) -> list[Path]:
        for key, value in values.items():
            # A newline or ';' in a value would inject configuration lines or cut them short.
            if any(ch in value for ch in "\r\n;[]"):
                raise SandboxError(f"pbx value for {key!r} contains a forbidden character")
        templates = sorted(self.templates.glob("*.conf"))
        if not templates:
            raise SandboxError(f"no *.conf templates in {self.templates}")
        for sub in INSTANCE_SUBDIRS:
            (instance_dir / sub).mkdir(parents=True, exist_ok=True)
        written = []
        for tpl in templates:
            source = tpl.read_text(encoding="utf-8")
            text = render_template(tpl.name, source, values)
            target = instance_dir / "etc" / tpl.name
            # Files holding a credential are for Asterisk's user only.
            secret = any("${" + key + "}" in source for key in SECRET_KEYS)
            _atomic_write(target, text, 0o600 if secret else 0o644)
            written.append(target)
        moh = instance_dir / "moh" / "cc-tones.wav"
        if not moh.exists():
            _atomic_write_bytes(moh, hold_tones_wav())
        return written

    def _make_dirs(self) -> None:
        for sub in INSTANCE_SUBDIRS:
            (self.instance_dir / sub).mkdir(parents=True, exist_ok=True)

    def write_generated(self, name: str, text: str) -> Path:
        """Write ``etc/generated/<name>`` for the templates to include.

        Each template includes ``generated/<file>.conf`` and ``generated/<file>-*.conf``, so
        every feature can own its file without clobbering others': ``queues-tenants.conf``,
        ``extensions-ivr.conf``, ``pjsip-phones.conf``. Call :meth:`reload` afterwards for a
        running instance (``app_queue``, ``pbx_config``, ``res_pjsip`` …).
        """
        if not _GENERATED_NAME.match(name):
            raise SandboxError(f"generated file name {name!r} must look like 'queues.conf'")
        self._make_dirs()
        path = self.instance_dir / "etc" / "generated" / name
        _atomic_write(path, text)
        return path

    def remove_generated(self, name: str) -> bool:
        """Delete one generated file; True if it existed. Call :meth:`reload` afterwards."""
        if not _GENERATED_NAME.match(name):
            raise SandboxError(f"generated file name {name!r} must look like 'queues.conf'")
        path = self.instance_dir / "etc" / "generated" / name
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def clear_generated(self) -> None:
        """Remove every generated file (a fresh instance starts from the templates only)."""
        gen = self.instance_dir / "etc" / "generated"
        if gen.exists():
            for path in gen.iterdir():
                path.unlink()

    def reload(self, module: str) -> str:
        """Reload one module's configuration, e.g. ``app_queue``, ``pbx_config``, ``res_pjsip``."""
        if not re.fullmatch(r"[a-z0-9_]+(\.so)?", module):
            raise SandboxError(f"module name {module!r} is not a plain module name")
        out = self.cli(f"module reload {module}")
        if "not found" in out.lower() or "no such module" in out.lower():
            raise SandboxError(f"reload of {module} failed: {out.strip()}")
        return out

    def reset(self) -> None:
        """Delete the instance's directory (config, astdb, spool, logs). Must be stopped."""
        if self.running():
            raise SandboxError(f"instance {self.config.instance} is running; stop it first")
        shutil.rmtree(self.instance_dir, ignore_errors=True)

    # ------------------------------------------------------------- lifecycle
    def read_pid(self) -> int | None:
        """PID of this instance's Asterisk if it is alive (pid reuse is checked)."""
        if self._proc is not None:
            self._proc.poll()  # reap our own child so it does not linger as a zombie
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid and _is_our_asterisk(pid, self.conf_path):
            return pid
        # Lost pid file (crashed tool, deleted dir): find the process by its command line.
        return _find_asterisk(self.conf_path)

    def running(self) -> bool:
        return self.read_pid() is not None

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
            elif not _alive(pid):
                return True
            time.sleep(0.05)
        return False

    def _check_ports_free(self) -> None:
        c = self.config
        for key, port in (("ami_port", c.ami_port), ("http_port", c.http_port)):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
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
    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one Asterisk CLI command on this instance and return its output."""
        if not self.running():
            raise SandboxError(f"Asterisk instance {self.config.instance} is not running")
        return self._rx(command, timeout=timeout)

    def _rx(self, command: str, timeout: float) -> str:
        if "\n" in command or "\r" in command:
            raise SandboxError("CLI command must be a single line")
        proc = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-n", "-C", self.conf_path, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out = proc.stdout
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in out:
            raise SandboxError(
                f"asterisk -rx {command!r} failed (exit {proc.returncode}): "
                f"{(out + proc.stderr).strip()[:500]}"
            )
        return out

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


def render_template(file: str, text: str, values: Mapping[str, str]) -> str:
    """Fill lower-case ``${name}`` placeholders; an unknown one raises :class:`TemplateError`."""
    try:
        return _ConfTemplate(text).substitute(values)
    except KeyError as exc:
        key = str(exc.args[0])
        raise TemplateError(file, key, f"unknown; known: {', '.join(sorted(values))}") from None


def hold_tones_wav(seconds: float = 8.0, rate: int = 8000) -> bytes:
    """A soft repeating three-note chime, 8 kHz mono 16-bit WAV: music on hold of our own."""
    notes = (523.25, 659.25, 783.99, 659.25)
    frames = bytearray()
    per_note = int(rate * seconds / len(notes))
    for freq in notes:
        for i in range(per_note):
            env = min(1.0, i / 400, (per_note - i) / 400)
            sample = 0.12 * env * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    _atomic_write_bytes(path, text.encode("utf-8"), mode)


def _atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # Created with its final mode: a secret is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _is_our_asterisk(pid: int, conf_path: str) -> bool:
    if not _alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    # "-f" tells the server from `asterisk -rx` clients that carry the same -C path.
    return (
        conf_path.encode() in argv
        and b"-f" in argv
        and b"-rx" not in argv
        # Right after spawn the process may still be `chroot ROOT asterisk ...`.
        and any(a.endswith(b"asterisk") for a in argv[:3])
    )


def _find_asterisk(conf_path: str) -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _is_our_asterisk(int(entry), conf_path):
            return int(entry)
    return None


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _check_ami(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=2.0) as sock:
        sock.settimeout(2.0)
        greeting = sock.recv(100)
    if not greeting.startswith(b"Asterisk Call Manager"):
        raise SandboxError(f"port {port} did not greet as AMI: {greeting[:40]!r}")
