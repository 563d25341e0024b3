"""The local Asterisk instance as the running application sees it (production code).

An instance (``PbxConfig.instance``) lives in ``ROOT/srv/callcenter/<instance>/`` with its own
etc, run, spool, log and lib directories. The application needs from it: where things are
(sounds, recordings, queue_log), the configuration rendered from the templates
(:mod:`callcenter.pbx.render`), the generated includes every feature owns
(:meth:`PbxInstance.write_generated`) and a module reload (:meth:`PbxInstance.reload`).

Building the root and starting or stopping Asterisk is the development sandbox's business
(:mod:`callcenter.pbx.sandbox`), which extends this class.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from callcenter.config import PbxConfig
from callcenter.pbx.reloads import reload_via_cli
from callcenter.pbx.render import (
    DEFAULT_TEMPLATES,
    PbxError,
    atomic_write,
    make_instance_dirs,
    render_instance,
    template_values,
)

INSTANCES_DIR = "srv/callcenter"
_GENERATED_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.conf$")


class PbxInstance:
    """One Asterisk instance in the shared root: its layout, configuration and CLI.

    ``config`` must carry credentials for rendering (use ``Config.with_secrets().pbx``).
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

    # ---------------------------------------------------------------- render
    def values(self) -> dict[str, str]:
        """Placeholder values for the templates."""
        return template_values(self.config, self.instance_rel)

    def render(self) -> list[Path]:
        """Write every ``templates/*.conf`` into the instance's etc dir; return the paths."""
        return render_instance(self.templates, self.instance_dir, self.values())

    def export(self, target: Path) -> list[Path]:
        """Render a self-contained instance directory at ``target`` for an Asterisk outside
        the sandbox (a container or a host install): ``asterisk -C <target>/etc/asterisk.conf``.
        Paths inside the files are ``target`` itself, so mount it at the same path."""
        values = template_values(self.config, str(target.resolve()))
        return render_instance(self.templates, target, values)

    def write_generated(self, name: str, text: str) -> Path:
        """Write ``etc/generated/<name>`` for the templates to include.

        Each template includes ``generated/<file>.conf`` and ``generated/<file>-*.conf``, so
        every feature can own its file without clobbering others': ``queues-tenants.conf``,
        ``extensions-ivr.conf``, ``pjsip-phones.conf``. Call :meth:`reload` afterwards for a
        running instance (``app_queue``, ``pbx_config``, ``res_pjsip`` …).
        """
        if not _GENERATED_NAME.match(name):
            raise PbxError(f"generated file name {name!r} must look like 'queues.conf'")
        make_instance_dirs(self.instance_dir)
        path = self.instance_dir / "etc" / "generated" / name
        atomic_write(path, text)
        return path

    def remove_generated(self, name: str) -> bool:
        """Delete one generated file; True if it existed. Call :meth:`reload` afterwards."""
        if not _GENERATED_NAME.match(name):
            raise PbxError(f"generated file name {name!r} must look like 'queues.conf'")
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
            raise PbxError(f"module name {module!r} is not a plain module name")
        out = reload_via_cli(self.cli, module)  # retried while another reload runs
        if "not found" in out.lower() or "no such module" in out.lower():
            raise PbxError(f"reload of {module} failed: {out.strip()}")
        return out

    # --------------------------------------------------------------- process
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

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one Asterisk CLI command on this instance and return its output."""
        if not self.running():
            raise PbxError(f"Asterisk instance {self.config.instance} is not running")
        return self._rx(command, timeout=timeout)

    def _rx(self, command: str, timeout: float) -> str:
        if "\n" in command or "\r" in command:
            raise PbxError("CLI command must be a single line")
        proc = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-n", "-C", self.conf_path, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out = proc.stdout
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in out:
            raise PbxError(
                f"asterisk -rx {command!r} failed (exit {proc.returncode}): "
                f"{(out + proc.stderr).strip()[:500]}"
            )
        return out


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _is_our_asterisk(pid: int, conf_path: str) -> bool:
    if not alive(pid):
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
