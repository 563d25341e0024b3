"""The CRM feature in the app: routes, its background jobs (webhook deliveries, telephone
note e-mail retries: :func:`wire_tasks`), the screen pop and the caller lookup the IVR
routes by.

The caller lookup runs inside the screen-pop lifecycle (the asyncpg fast path needs a
connection), so routing reaches it through a :class:`LookupHolder` filled while the app
runs; ``services.caller_lookup`` is set here, before the IVR is wired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.bus import Bus
from callcenter.db.session import Database
from callcenter.plugin import Feature
from callcenter.services import CallerLookup as RoutingLookup
from callcenter.services import Lifecycle, Services
from callcenter.tenants import TenantFacts
from crm import cli, notes, webhooks
from crm.http import setup
from crm.identity import CallerIdentity
from crm.lookup import CallerLookup, Lookup, PgLookup
from crm.mailer import Mailer, mailer_from_config
from crm.screenpop import ScreenPop, SetVar
from jobs.plugin import JOBS
from jobs.worker import Periodic

log = logging.getLogger(__name__)


def wire_tasks(services: Services, mailer: Mailer | None = None) -> None:
    """The CRM's tasks on the job engine (``serve`` via :func:`wire`, and
    ``callcenter worker``)."""
    if mailer is None:
        mailer = mailer_from_config(services.config.smtp)
    jobs = services.require(JOBS)
    sender = webhooks.WebhookSender(services.db)
    jobs.tasks.append(sender.task())
    jobs.tasks.append(webhooks.adopt_task(services.db))
    jobs.periodic.append(Periodic(webhooks.ADOPT_TASK, 600.0))
    jobs.tasks.append(notes.email_task(services.db, mailer))

    async def close(_app: web.Application) -> AsyncIterator[None]:
        yield
        await sender.close()

    services.lifecycles.append(close)


class LookupHolder:
    """The running app's caller lookup (one :class:`CallerIdentity`), shared by the screen
    pop and routing (the IVR), so that a call's caller is looked up once."""

    def __init__(self) -> None:
        self.lookup: CallerLookup | None = None
        self.identity: CallerIdentity | None = None

    @property
    def lookups(self) -> int:
        """Caller lookups run so far (``callcenter_crm_caller_lookups`` in /metrics)."""
        return self.identity.lookups if self.identity is not None else 0


def routing_lookup(
    db: Database, holder: LookupHolder, tenants: TenantFacts | None = None
) -> RoutingLookup:
    """``(tenant slug, caller) -> (contact id, VIP)`` for the IVR's routing decision."""
    facts = tenants or TenantFacts(db)

    async def lookup(slug: str, caller: str) -> tuple[str | None, bool]:
        if holder.lookup is None:
            return None, False
        tenant = await facts.get(slug)
        if tenant is None:
            return None, False
        match = await holder.lookup.lookup(tenant.id, caller, tenant.region)
        contact = str(match.contact_id) if match.contact_id is not None else None
        return contact, match.vip

    return lookup


def screenpop_lifecycle(
    db: Database,
    bus: Bus,
    set_var: SetVar | None = None,
    holder: LookupHolder | None = None,
    tenants: TenantFacts | None = None,
) -> Lifecycle:
    """An aiohttp cleanup context running the screen pop (asyncpg fast path on PostgreSQL);
    its caller lookup is the one the IVR routes by (``holder``)."""

    async def run(_app: web.Application) -> AsyncIterator[None]:
        lookup: CallerLookup
        fast: PgLookup | None = None
        if db.backend == "postgresql":
            fast = await PgLookup.connect(db.url)
            lookup = fast
        else:
            lookup = Lookup(db.engine)
        identity = CallerIdentity(lookup)
        if holder is not None:
            holder.lookup, holder.identity = identity, identity
        pop = ScreenPop(db, identity, bus, tenants=tenants, set_var=set_var)
        task = asyncio.create_task(pop.run(), name="crm-screenpop")
        yield
        if holder is not None:
            holder.lookup = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if fast is not None:
            await fast.close()

    return run


def wire(services: Services, *, mailer: Mailer | None = None) -> None:
    """Register routes, the background jobs, the screen pop and the routing lookup.

    Without an explicit ``mailer``, notes are e-mailed through the ``[smtp]`` server of the
    configuration when ``smtp.host`` is set (otherwise they are kept and retried later)."""
    if mailer is None:
        mailer = mailer_from_config(services.config.smtp)
    services.http_setups.append(lambda app: setup(app, mailer=mailer))
    wire_tasks(services, mailer)

    async def set_var(channel_id: str, name: str, value: str) -> None:
        # The contact id goes onto the channel (CC_CONTACT, for resync). AMI Setvar:
        # ARI refuses channels outside Stasis (409), and by the time the lookup is done the
        # inbound leg has usually left Stasis for the queue. AMI accepts the uniqueid.
        pbx = services.pbx
        if pbx is not None:
            headers = {"Channel": channel_id, "Variable": name, "Value": value}
            await pbx.ami.send_action("Setvar", headers, check=True)

    holder = LookupHolder()
    services.caller_lookup = routing_lookup(services.db, holder, services.tenants)
    services.lifecycles.append(
        screenpop_lifecycle(services.db, services.bus, set_var, holder, services.tenants)
    )
    services.metrics.add_counter_source(
        "callcenter_crm_caller_lookups", "caller lookups run (one per call)", lambda: holder.lookups
    )


FEATURE = Feature("crm", models=("crm.models",), wire=wire, commands=cli.register)
