"""The voicemail feature in the app or a worker process.

In ``serve``: the ``voicemail`` Stasis purpose (when a PBX is wired), the inbox routes and
the pipeline's tasks for the in-app worker. In ``callcenter worker``: the tasks only, with
an ARI REST client for fetching recordings. Speech models are checked here, at start-up:
a configured model with a missing file stops the process with the file's name.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.rest import AriRest
from callcenter.plugin import Feature
from callcenter.services import Services
from jobs.plugin import JOBS
from voicemail import cli, http, speech
from voicemail.deps import Recordings, VoicemailDeps
from voicemail.stasis import PURPOSE, VoicemailDesk
from voicemail.tasks import PERIODIC, tasks
from voicemail.transcribe import Transcriber


def connect_crm(deps: VoicemailDeps) -> None:
    """Contacts and webhooks come from the CRM (late imports: the CRM is optional here)."""
    from callcenter.phone.numbers import DEFAULT_REGION
    from crm import webhooks
    from crm.lookup import Lookup
    from crm.models import Contact

    db = deps.db
    lookup = Lookup(db.engine)

    async def find_contact(tenant_id: int, e164: str) -> tuple[int | None, str | None]:
        match = await lookup.lookup(tenant_id, e164, DEFAULT_REGION)  # e164 is already E.164
        return match.contact_id, None

    async def contact_name(contact_id: int) -> str | None:
        async with db.session() as s:
            contact = await s.get(Contact, contact_id)
            return contact.display_name if contact is not None else None

    deps.webhooks = webhooks.enqueue
    deps.find_contact = find_contact
    deps.contact_name = contact_name


def voicemail_deps(services: Services, recordings: Recordings | None) -> VoicemailDeps:
    from crm.mailer import mailer_from_config

    config = services.config
    models = speech.check_all(config)  # ModelError names the missing file
    mailer = mailer_from_config(config.smtp)
    deps = VoicemailDeps(
        db=services.db,
        bus=services.bus,
        recordings=recordings,
        transcriber=Transcriber(config.voicemail.transcribers),
        models=models,
        mailer=mailer,
        sender=config.smtp.sender,
    )
    connect_crm(deps)
    return deps


def wire_voicemail_tasks(services: Services, recordings: Recordings | None) -> VoicemailDeps:
    deps = voicemail_deps(services, recordings)
    jobs = services.require(JOBS)
    jobs.tasks.extend(tasks(deps))
    jobs.periodic.extend(PERIODIC)

    async def close(_app: web.Application) -> AsyncIterator[None]:
        yield
        if deps.transcriber is not None:
            deps.transcriber.close()

    services.lifecycles.append(close)
    return deps


def wire(services: Services) -> None:
    """Tasks, the ``voicemail`` Stasis purpose (with a PBX), the inbox routes."""
    from crm.privacy import register_store
    from crm.timeline import register_source
    from voicemail.privacy import VoicemailStore
    from voicemail.timeline import entries

    pbx = services.pbx
    deps = wire_voicemail_tasks(services, pbx.ari if pbx is not None else None)
    register_source(entries)
    register_store(VoicemailStore())
    config = services.config
    desk: VoicemailDesk | None = None
    if pbx is not None:
        desk = VoicemailDesk(
            pbx.ari,
            services.db,
            region=config.tenants.default_region,
            max_seconds=config.voicemail.max_seconds,
            silence_seconds=config.voicemail.silence_seconds,
        )
        pbx.stasis.register(PURPOSE, desk.on_stasis_start)
        on_event = desk.on_event

        async def events(event: AriEvent) -> None:
            if event.type != "StasisStart":
                await on_event(event)

        pbx.ari.add_handler(events)
    services.http_setups.append(lambda app: http.setup(app, deps))

    async def close(_app: web.Application) -> AsyncIterator[None]:
        yield
        if desk is not None:
            with contextlib.suppress(Exception):
                await desk.close()

    services.lifecycles.append(close)


def ari_rest(services: Services) -> AriRest:
    """An ARI REST client for worker processes (no events websocket: it would displace the
    app's)."""
    return AriRest.from_config(services.config.pbx)


FEATURE = Feature("voicemail", models=("voicemail.models",), wire=wire, commands=cli.register)
