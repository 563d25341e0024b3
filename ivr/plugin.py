"""The IVR feature in the app: tenants from the database, the ARI runner on the
``inbound`` Stasis purpose, queue load from the live state, reloads from other instances.

Provides the tenant registry to later features (:data:`TENANTS`); does nothing PBX-related
when the app runs without a PBX (``services.pbx`` is None).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.config import PbxConfig
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.render import PbxError
from callcenter.pbx.runtime import PbxInstance
from callcenter.plugin import Feature
from callcenter.services import Port, Services
from ivr import cli, fallback, http, voicemail
from ivr.errors import ConfigFaults
from ivr.position import PURPOSE as ANNOUNCE
from ivr.position import PositionAnnouncer, Waiting, waiting_in
from ivr.prompts import SOUND_EXTENSIONS, PromptSources
from ivr.queue_load import queue_loads
from ivr.registry import TenantRegistry, follow_reloads, reload_from_db, reload_from_files
from ivr.routing import QueueLoad
from ivr.stasis import PURPOSE, IvrRunner
from ivr.tenancy import Tenant
from ivr.voicemail import VoicemailConfigError

log = logging.getLogger(__name__)

# The running app's tenants (kept current by reloads), for the features wired after the IVR.
TENANTS: Port[TenantRegistry] = Port("ivr.tenants")


def media_root_for(recordings: Path, pbx_root: Path) -> str:
    """Where Asterisk (chrooted in ``pbx_root``) sees ``recordings``; "" if it cannot."""
    recordings = recordings.resolve()
    if recordings.is_relative_to(pbx_root.resolve()):
        return "/" + recordings.relative_to(pbx_root.resolve()).as_posix()
    return ""


def publish_recordings(recordings: Path, pbx: PbxConfig, data_dir: Path) -> str:
    """Make the tenant recordings playable by Asterisk; returns their media root.

    Recordings inside the PBX root are used where they are. Otherwise (the usual case with
    the chrooted sandbox: they live in ``data_dir``) the sound files are copied into the
    instance's sound directory, which Asterisk sees inside its root.
    """
    direct = media_root_for(recordings, pbx.root)
    if direct or not recordings.is_dir():
        return direct
    instance = PbxInstance(pbx, data_dir)
    target = instance.sounds_dir / "tenants"
    for path in recordings.rglob("*"):
        if path.is_file() and path.suffix.lstrip(".") in SOUND_EXTENSIONS:
            dest = target / path.relative_to(recordings)
            if _same_file(path, dest):
                continue  # published before: re-publishing on every reload stays cheap
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    return instance.sound_path("tenants")


def _same_file(source: Path, dest: Path) -> bool:
    try:
        a, b = source.stat(), dest.stat()
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def install_voicemail(pbx: PbxConfig, data_dir: Path, tenants: list[Tenant]) -> bool:
    """Regenerate the tenants' mailboxes and the dialplan's fallback routes
    (:mod:`ivr.fallback`) in the local PBX instance (the sandbox), if that is where Asterisk
    runs; a PBX elsewhere gets them from ``callcenter pbx render``."""
    instance = PbxInstance(pbx, data_dir)
    try:
        if not instance.running():
            return False
        voicemail.install(instance, tenants)
    except (PbxError, VoicemailConfigError, OSError) as exc:
        log.error("ivr: voicemail boxes not installed: %s", exc)
        return False
    try:
        fallback.install(instance, tenants)  # after the mailboxes it may route to
    except (PbxError, OSError) as exc:
        log.error("ivr: fallback routes not installed: %s", exc)
        return False
    return True


def announce_position(
    announcer: PositionAnnouncer, registry: TenantRegistry
) -> Callable[[str, str, str, str], None]:
    """The runner's queue hand-off hook: start announcements with the tenant's schedule."""

    def queued(channel_id: str, tenant_slug: str, _queue: str, language: str) -> None:
        tenant = registry.get(tenant_slug)
        if tenant is not None:
            rules = tenant.routing
            announcer.track(channel_id, language, rules.announce_after, rules.announce_every)

    return queued


def wire(services: Services) -> None:
    """Wire the IVR and provide the tenant registry (:data:`TENANTS`)."""
    config = services.config
    recordings = config.app.data_dir / "recordings"
    sources = PromptSources.for_pbx_root(config.pbx.root, recordings)
    registry = TenantRegistry()
    services.provide(TENANTS, registry)
    closers = _wire_pbx(services, registry, recordings)
    services.http_setups.append(
        lambda app: http.setup(app, registry, sources, config.tenants.directory, bus=services.bus)
    )

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        try:
            await reload_from_db(registry, services.db, sources)
            if not registry.tenants() and config.tenants.directory.is_dir():
                await reload_from_files(
                    registry, services.db, config.tenants.directory, sources, services.bus
                )
        except (ConfigFaults, SQLAlchemyError) as exc:
            # Serve anyway: calls for unknown numbers go to the dialplan's fallback queue.
            log.error("ivr: tenant configuration not loaded: %s", exc)
        follower = asyncio.create_task(follow_reloads(registry, services.db, sources, services.bus))
        yield
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        for close in closers:
            await close()

    services.lifecycles.append(lifecycle)


def _wire_pbx(
    services: Services, registry: TenantRegistry, recordings: Path
) -> list[Callable[[], Awaitable[None]]]:
    """The IVR runner and the position announcer on the PBX; returns their ``close``s."""
    pbx = services.pbx
    if pbx is None:
        return []
    config = services.config
    live = pbx.live

    def loads() -> Mapping[str, QueueLoad]:
        state = live.state
        return queue_loads(state.queues, state.agents.members.values(), live.clock())

    def waiting(channel_id: str) -> Waiting | None:
        state = live.state
        return waiting_in(
            state.queues, list(state.agents.members.values()), live.clock(), channel_id
        )

    def tenants_changed(tenants: list[Tenant]) -> None:
        # Off the event loop: the reload runs `asterisk -rx` as a subprocess. The
        # recordings too: a tenant loaded while the app runs must play its own prompts
        # (they were copied only at start-up; issue #8).
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, install_voicemail, config.pbx, config.app.data_dir, tenants)
        loop.run_in_executor(None, publish_recordings, recordings, config.pbx, config.app.data_dir)

    registry.on_replace(tenants_changed)
    media_root = publish_recordings(recordings, config.pbx, config.app.data_dir)
    announcer = PositionAnnouncer(pbx.ari, waiting)
    runner = IvrRunner(
        pbx.ari,
        registry,
        loads,
        recordings_media_root=media_root,
        default_region=config.tenants.default_region,
        on_queued=announce_position(announcer, registry),
        caller_lookup=services.caller_lookup,  # set by the CRM, wired before the IVR
    )
    pbx.stasis.register(PURPOSE, runner.on_stasis_start)
    pbx.stasis.register(ANNOUNCE, announcer.on_stasis_start)
    listeners = (runner.on_event, announcer.on_event)

    async def events(event: AriEvent) -> None:
        if event.type != "StasisStart":
            for listener in listeners:
                await listener(event)

    pbx.ari.add_handler(events)
    return [runner.close, announcer.close]


FEATURE = Feature("ivr", models=("ivr.models",), wire=wire, commands=cli.register)
