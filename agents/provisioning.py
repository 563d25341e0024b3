"""Tenant queues in app_queue, written by the PBX itself on our instruction (AMI).

Decision: the app and Asterisk need not share a file system (docker-compose runs them in
separate containers), so the app never writes ``queues-tenants.conf`` itself. It asks the
PBX over AMI: ``GetConfig`` reads what is there, ``CreateConfig`` makes the file once and
``UpdateConfig`` replaces its categories, then an AMI ``Reload`` of app_queue
(:mod:`callcenter.pbx.reloads`: retried while another reload runs). The same pure
:func:`queue_definitions` also renders the file as text (:func:`render_conf`) for
inspection and for installations that prefer files.

AMI's UpdateConfig cannot resolve a template defined in another file, so each queue gets
the settings spelled out; they are read from the PBX's own ``q-default`` (which inherits
``[cc-queue-defaults]`` in queues.conf), so queues.conf stays the one place for defaults.
Nothing changes (no reload) when the PBX already has exactly the wanted queues.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from callcenter.pbx.ami.message import Message
from callcenter.pbx.reloads import ReloadError, reload_module

log = logging.getLogger(__name__)

QUEUES_FILE = "generated/queues-tenants.conf"
STAGING_FILE = "generated/staging-queues-tenants.conf"
DEFAULTS_QUEUE = "q-default"
QUEUE_NAME = re.compile(r"^q-[a-z0-9][a-z0-9_-]{0,62}$")
_SETTING_KEY = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_SETTING_VALUE = re.compile(r"^[^\r\n;\[\]]{0,200}$")

Settings = tuple[tuple[str, str], ...]


class ProvisioningError(RuntimeError):
    """Queues could not be provisioned; the message says which queue or step failed."""


class TenantLike(Protocol):
    """What provisioning reads of :class:`ivr.tenancy.Tenant`."""

    @property
    def slug(self) -> str: ...

    @property
    def routing(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class QueueDefinition:
    """One app_queue queue: its name, owning tenant and settings in file order."""

    name: str
    tenant: str | None
    settings: Settings


def queue_definitions(tenants: Iterable[TenantLike], defaults: Settings) -> list[QueueDefinition]:
    """Every tenant queue with the default settings, sorted by name (pure).

    A queue listed by two tenants is shared (``tenant`` None). Invalid names or settings
    raise :class:`ProvisioningError` naming the tenant and queue.
    """
    for key, value in defaults:
        if not _SETTING_KEY.match(key) or not _SETTING_VALUE.match(value):
            raise ProvisioningError(f"default queue setting {key!r}={value!r} is not plain")
    owners: dict[str, set[str]] = {}
    for tenant in tenants:
        for rule in tenant.routing.queues:
            if not QUEUE_NAME.match(rule.name):
                raise ProvisioningError(
                    f"tenant {tenant.slug}: queue name {rule.name!r} "
                    f"must match {QUEUE_NAME.pattern}"
                )
            owners.setdefault(rule.name, set()).add(tenant.slug)
    out = []
    for name in sorted(owners):
        slugs = owners[name]
        owner = next(iter(slugs)) if len(slugs) == 1 else None
        out.append(QueueDefinition(name, owner, defaults))
    return out


def render_conf(definitions: Sequence[QueueDefinition]) -> str:
    """The definitions as queues.conf text (what UpdateConfig makes the PBX write)."""
    lines = ["; Tenant queues, generated from the tenant configuration: do not edit."]
    for d in definitions:
        lines.append("")
        lines.append(f"[{d.name}]")
        lines.extend(f"{k} = {v}" for k, v in d.settings)
    return "\n".join(lines) + "\n"


def parse_get_config(msg: Message) -> dict[str, Settings]:
    """``GetConfig`` answer → {category: ((key, value), …)} in file order."""
    cats: dict[str, str] = {}
    lines: dict[str, list[tuple[int, str, str]]] = {}
    for key, value in msg.headers:
        if key.startswith("Category-"):
            cats[key[len("Category-") :]] = value
        elif key.startswith("Line-"):
            _, cat_no, line_no = key.split("-", 2)
            k, _, v = value.partition("=")
            lines.setdefault(cat_no, []).append((int(line_no), k.strip(), v.strip()))
    return {
        name: tuple((k, v) for _, k, v in sorted(lines.get(no, [])))
        for no, name in sorted(cats.items())
    }


def update_batches(
    current: Mapping[str, Settings], wanted: Sequence[QueueDefinition], max_actions: int = 25
) -> list[dict[str, str]]:
    """``UpdateConfig`` requests turning ``current`` into ``wanted``; [] if equal (pure).

    AMI takes at most 128 headers per action, so the edits are split: the first request
    reads the live file, intermediate ones work on :data:`STAGING_FILE` (not matched by
    queues.conf's ``#tryinclude``), and only the last writes the live file, so a
    half-applied change is never loaded.
    """
    if dict(current) == {d.name: d.settings for d in wanted}:
        return []
    edits: list[tuple[str, str, str | None, str | None]] = [
        ("DelCat", name, None, None) for name in current
    ]
    for d in wanted:
        edits.append(("NewCat", d.name, None, None))
        edits.extend(("Append", d.name, k, v) for k, v in d.settings)
    chunks = [edits[i : i + max_actions] for i in range(0, len(edits), max_actions)] or [[]]
    out = []
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        headers = {
            "SrcFilename": QUEUES_FILE if i == 0 else STAGING_FILE,
            "DstFilename": QUEUES_FILE if last else STAGING_FILE,
        }
        for n, (action, cat, var, value) in enumerate(chunk):
            tag = f"{n:06d}"
            headers[f"Action-{tag}"] = action
            headers[f"Cat-{tag}"] = cat
            if var is not None:
                headers[f"Var-{tag}"] = var
                headers[f"Value-{tag}"] = value or ""
        out.append(headers)
    return out


class AmiConfigApi(Protocol):
    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message: ...


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    queues: tuple[str, ...]
    changed: bool


class QueueProvisioner:
    """Applies :func:`queue_definitions` to one PBX through AMI."""

    def __init__(self, ami: AmiConfigApi) -> None:
        self.ami = ami
        self.applied: tuple[QueueDefinition, ...] = ()

    async def defaults(self) -> Settings:
        """The effective settings of ``q-default`` (inherited from cc-queue-defaults)."""
        msg = await self.ami.send_action(
            "GetConfig", {"Filename": "queues.conf", "Category": DEFAULTS_QUEUE}
        )
        cats = parse_get_config(msg) if msg.get("Response") == "Success" else {}
        if DEFAULTS_QUEUE not in cats:
            raise ProvisioningError(
                f"queues.conf on the PBX has no [{DEFAULTS_QUEUE}] to take defaults from: "
                f"{msg.get('Message') or 'no such category'}"
            )
        return cats[DEFAULTS_QUEUE]

    async def current(self) -> dict[str, Settings]:
        """What the PBX's generated queue file holds now (created empty if missing)."""
        msg = await self.ami.send_action("GetConfig", {"Filename": QUEUES_FILE})
        if msg.get("Response") == "Success":
            return parse_get_config(msg)
        await self._create(QUEUES_FILE)
        return {}

    async def _create(self, filename: str) -> None:
        # Asterisk writes only files that already exist inside its config directory
        # (realpath check), so each file is created empty once.
        created = await self.ami.send_action("CreateConfig", {"Filename": filename})
        if created.get("Response") != "Success":
            raise ProvisioningError(
                f"could not create {filename} on the PBX: {created.get('Message')}"
            )

    async def _ensure_staging(self) -> None:
        msg = await self.ami.send_action("GetConfig", {"Filename": STAGING_FILE})
        if msg.get("Response") != "Success":
            await self._create(STAGING_FILE)

    async def apply(self, tenants: Iterable[TenantLike]) -> ProvisionReport:
        """Make the PBX's tenant queues match ``tenants``; reload app_queue if needed."""
        wanted = queue_definitions(tenants, await self.defaults())
        batches = update_batches(await self.current(), wanted)
        if len(batches) > 1:
            await self._ensure_staging()
        for headers in batches:
            msg = await self.ami.send_action("UpdateConfig", headers, timeout=30.0)
            if msg.get("Response") != "Success":
                raise ProvisioningError(
                    f"UpdateConfig of {headers['DstFilename']} refused: {msg.get('Message')}"
                )
        if batches:
            # Not UpdateConfig's Reload header: Asterisk ignores that reload's refusal when
            # another reload runs, and the new queues would stay unknown to app_queue.
            try:
                await reload_module(self.ami, "app_queue")
            except ReloadError as exc:
                raise ProvisioningError(str(exc)) from exc
            log.info("queues provisioned: %s", ", ".join(d.name for d in wanted) or "none")
        self.applied = tuple(wanted)
        return ProvisionReport(tuple(d.name for d in wanted), bool(batches))
