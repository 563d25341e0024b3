"""baresip (Debian's SIP user agent) as a receptionist's desk phone in tests.

It registers with the credentials the API handed out, answers every call at once
(``answermode=auto``) and sends a WAV file as its microphone, so RTP flows both ways; at
the end of the file it hangs up. Ports from ``CALLCENTER_TEST_PORT_BASE`` + 150..199.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.integration.conftest import test_port_base

MODULES = ("g711.so", "g722.so", "aufile.so")


@contextlib.contextmanager
def baresip(
    workdir: Path, user: str, password: str, registrar: str, microphone: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run baresip registered as ``user`` at ``registrar`` (host:port) until the block ends;
    then stop it (SIGTERM: it unregisters on the way out)."""
    if shutil.which("baresip") is None:
        raise RuntimeError("baresip is not installed: scripts/system-packages installs it")
    base = test_port_base() + 150
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{base}",
        f"audio_source aufile,{microphone}",
        f"audio_player aufile,{workdir / 'unused.wav'}",
        f"rtp_ports {base + 10}-{base + 48}",
        "module_path /usr/lib/baresip/modules",
        *(f"module {m}" for m in MODULES),
        "module_app account.so",
        "module_app menu.so",
    ]
    (workdir / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
    account = f"<sip:{user}@{registrar}>;auth_pass={password};regint=60;answermode=auto\n"
    (workdir / "accounts").write_text(account, encoding="utf-8")
    log = (workdir / "baresip.log").open("wb")
    proc = subprocess.Popen(
        ["baresip", "-f", str(workdir)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    try:
        yield proc
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
