"""Lines at run time: write the generated PBX configuration, reload it, watch the status.

The app owns three generated files in the PBX's ``generated/`` include directory:
``pjsip-trunks.conf`` and ``extensions-lines.conf`` (from the trunk file and the tenants'
numbers) and ``pjsip-phones.conf`` (from the database, :mod:`lines.phones`). A file is
rewritten and its module reloaded (AMI ``Reload``) only when its text changed, so a
reconnect or a tenant reload that changes nothing costs the PBX nothing, and a reload never
drops a call in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from aiohttp import web

from callcenter.aio import wait_set
from callcenter.bus import Bus
from callcenter.pbx.ami.message import Message
from callcenter.pbx.reloads import ReloadError, reload_module
from callcenter.topics import TOPIC_PHONES_CHANGED
from lines import dialplan, pjsip
from lines.phones import PhoneSpec, render_phones
from lines.status import LineStatus
from lines.trunks import TrunkSet

log = logging.getLogger(__name__)

TRUNKS_FILE = "pjsip-trunks.conf"
DIALPLAN_FILE = "extensions-lines.conf"
PHONES_FILE = "pjsip-phones.conf"
PHONES_TOPIC = TOPIC_PHONES_CHANGED
_RELOAD = {TRUNKS_FILE: "res_pjsip.so", PHONES_FILE: "res_pjsip.so", DIALPLAN_FILE: "pbx_config.so"}


class LinesAmi(Protocol):
    """What the lines service needs of :class:`callcenter.pbx.ami.client.AmiClient`."""

    @property
    def connected(self) -> bool: ...

    async def send_action(
        self,
        name: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
        check: bool = False,
    ) -> Message: ...

    async def send_list_action(
        self, name: str, headers: Mapping[str, str] | None = None, *, timeout: float | None = None
    ) -> list[Message]: ...


class PhoneSource(Protocol):
    async def specs(self) -> list[PhoneSpec]: ...


class GeneratedFiles:
    """The PBX's ``etc/generated`` directory as seen by the app (sandbox or shared volume)."""

    def __init__(self, etc_dir: Path) -> None:
        self.dir = etc_dir / "generated"

    def write(self, name: str, text: str) -> bool:
        """Write ``name`` atomically; False (and no write) when it already holds ``text``."""
        path = self.dir / name
        with contextlib.suppress(OSError):
            if path.read_text(encoding="utf-8") == text:
                return False
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        # Trunk passwords and phone credentials: readable by the PBX's user only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return True


class LinesService:
    """Trunk configuration, phone configuration and the status of both."""

    def __init__(
        self,
        ami: LinesAmi,
        files: GeneratedFiles,
        trunks: TrunkSet,
        secret: Callable[[str], str],
        *,
        inbound_context: str,
        media_address: str = "",
        realm: str = "callcenter",
        registrar: str = "",
        sip_host: str = "127.0.0.1",
        sip_port: int = 5060,
        bus: Bus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ami, self.files, self.trunks = ami, files, trunks
        self.bus = bus
        self._secret = secret
        self.inbound_context = inbound_context
        self.media_address = media_address
        self.realm = realm
        self.registrar = registrar  # "host:port" phones register to (shown with credentials)
        self.sip_host, self.sip_port = sip_host, sip_port  # where TCP/TLS transports bind
        self.clock = clock
        self.status = LineStatus()
        self.reloads = 0
        self._phone_text: str | None = None
        self._phones: tuple[str, ...] = ()
        self._presentation: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        for trunk in trunks.trunks:
            registration = f"{trunk.endpoint}-reg" if trunk.mode == "register" else None
            self.status.expect(trunk.endpoint, "trunk", registration)

    # ------------------------------------------------------------------ configuration
    def trunk_texts(self) -> dict[str, str]:
        sections = pjsip.transport_sections(
            self.trunks.network, self.trunks.protocols(), self.sip_host, self.sip_port
        )
        sections += [
            s
            for t in self.trunks.trunks
            for s in pjsip.trunk_sections(
                t,
                self._secret(t.password_secret) if t.password_secret else "",
                self.media_address,
            )
        ]
        header = f"Carrier trunks from {self.trunks.source or 'no trunk file'}."
        return {
            TRUNKS_FILE: pjsip.render(sections, header),
            DIALPLAN_FILE: dialplan.render(self.trunks, self.inbound_context, self._presentation),
        }

    def set_presentation(self, numbers: Mapping[str, str]) -> None:
        """Tenant slug → number presented on its outgoing calls (after a tenant reload)."""
        self._presentation = dict(numbers)

    def set_phones(self, text: str, endpoints: Sequence[str]) -> None:
        """The rendered phone file and the phone endpoints it defines (lines.phones)."""
        self._phone_text = text
        self._phones = tuple(endpoints)
        for name in endpoints:
            self.status.expect(name, "phone")
        self.status.keep_only([t.endpoint for t in self.trunks.trunks] + list(endpoints))

    async def refresh_phones(self, store: PhoneSource, *, announce: bool = False) -> None:
        """Render the phones from the database and apply them (reload without restart);
        ``announce``: tell the other app instances (bus) that the phones changed."""
        specs = await store.specs()
        self.set_phones(render_phones(specs, self.media_address), [p.name for p in specs])
        await self.apply()
        if announce and self.bus is not None:
            await self.bus.publish(PHONES_TOPIC, {"type": "phones.changed"})

    async def apply(self) -> list[str]:
        """Write what changed and reload its module; returns the files written."""
        async with self._lock:
            texts = self.trunk_texts()
            if self._phone_text is not None:
                texts[PHONES_FILE] = self._phone_text
            written = [name for name, text in texts.items() if self.files.write(name, text)]
            if written and self.ami.connected:
                for module in sorted({_RELOAD[name] for name in written}):
                    await self.reload(module)
            if written:
                log.info("lines: generated %s", ", ".join(written))
            return written

    async def reload(self, module: str) -> None:
        try:
            await reload_module(self.ami, module)  # retried while another reload runs
        except ReloadError as exc:
            log.error("lines: %s", exc)
        self.reloads += 1

    async def reload_all(self) -> None:
        """Reload everything we generate (after an AMI reconnect: the PBX may be new)."""
        await self.apply()
        for module in sorted(set(_RELOAD.values())):
            await self.reload(module)

    # ------------------------------------------------------------------ status
    def on_event(self, msg: Message) -> None:
        """AMI event listener: device states now, registrations on the next poll."""
        if msg.get("Event") == "Registry":
            self._dirty.set()
        else:
            self.status.on_message(msg, self.clock())

    async def poll(self) -> None:
        """Ask the PBX for every endpoint's state and every outbound registration."""
        now = self.clock()
        for action in ("PJSIPShowEndpoints", "PJSIPShowRegistrationsOutbound"):
            try:
                entries = await self.ami.send_list_action(action, timeout=10.0)
            except Exception as exc:  # "No endpoints found" is an error answer too
                log.debug("lines: %s: %s", action, exc)
                entries = []
            for msg in entries:
                self.status.on_message(msg, now)
        for endpoint in [t.endpoint for t in self.trunks.trunks]:
            try:
                detail = await self.ami.send_list_action(
                    "PJSIPShowEndpoint", {"Endpoint": endpoint}, timeout=10.0
                )
            except Exception as exc:  # not loaded (yet): nothing known of its contacts
                log.debug("lines: PJSIPShowEndpoint %s: %s", endpoint, exc)
                continue
            self.status.replace_contacts(endpoint, detail, now)

    async def watch(self, interval: float) -> None:
        """Run forever: poll every ``interval`` s, or at once after a ``Registry`` event."""
        while True:
            await wait_set(self._dirty, interval)
            self._dirty.clear()
            if self.ami.connected:
                try:
                    await self.poll()
                except Exception:
                    log.exception("lines: status poll failed")

    def snapshot(self) -> dict[str, object]:
        return self.status.snapshot()


LINES: web.AppKey[LinesService] = web.AppKey("lines", LinesService)
