"""Module reloads that are not lost when another reload is running.

Asterisk runs one module reload at a time and refuses the others instead of queueing them:
"A module reload request is already in progress; please be patient" on the CLI, an error
response over AMI, and nothing at all for ``UpdateConfig``'s own ``Reload`` header (its
result is ignored). The app reloads from several parts at once — queue provisioning, the
lines, the tenants' voicemail and fallback dialplan after a tenant reload — so a refused
reload would leave, say, a new tenant's queue unknown to app_queue until the next change.
Every reload therefore goes through here and is retried while another one runs (Wazo's
sysconfd does the same).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from callcenter.pbx.ami.message import Message

ATTEMPTS = 50
PAUSE_S = 0.1  # a reload of our generated files takes milliseconds


class ReloadError(RuntimeError):
    """The PBX refused a reload for a reason other than another reload running."""


class AmiActions(Protocol):
    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message: ...


def busy(text: str) -> bool:
    """True if the PBX's answer says another reload is running (CLI or AMI wording)."""
    lowered = text.lower()
    return "in progress" in lowered or "please be patient" in lowered


async def reload_module(
    ami: AmiActions, module: str, *, attempts: int = ATTEMPTS, pause: float = PAUSE_S
) -> None:
    """AMI ``Reload`` of ``module``, retried while another reload runs."""
    message = ""
    for _ in range(attempts):
        msg = await ami.send_action("Reload", {"Module": module}, timeout=30.0)
        if msg.get("Response") == "Success":
            return
        message = msg.get("Message") or ""
        if not busy(message):
            raise ReloadError(f"reload of {module} refused: {message or 'no reason given'}")
        await asyncio.sleep(pause)
    raise ReloadError(f"reload of {module}: another reload kept running ({message})")


def reload_via_cli(
    cli: Callable[[str], str],
    module: str,
    *,
    attempts: int = ATTEMPTS,
    pause: float = PAUSE_S,
) -> str:
    """``module reload <module>`` on the CLI (blocking), retried while another reload runs."""
    out = ""
    for _ in range(attempts):
        out = cli(f"module reload {module}")
        if not busy(out):
            return out
        time.sleep(pause)
    raise ReloadError(f"reload of {module}: another reload kept running ({out.strip()})")
