"""The receptionists feature in the app: agents (presence, queue membership) and the
provisioning of the tenant queues; provides the :class:`AgentService` (:data:`AGENTS`).

On every AMI (re)connect: provision the tenant queues (once tenants are loaded), then
restore every agent's wanted membership from the database. The registry's ``on_replace``
wakes a watcher that provisions again after a tenant reload (here or, through the bus, on
another instance).
"""

from __future__ import annotations

import asyncio
import logging

from agents import cli, http
from agents.provisioning import ProvisioningError, QueueProvisioner
from agents.service import AgentService
from callcenter.aio import wait_set
from callcenter.plugin import Feature, background
from callcenter.services import Pbx, Port, Services
from ivr.plugin import TENANTS
from ivr.registry import TenantRegistry

log = logging.getLogger(__name__)

AGENTS: Port[AgentService] = Port("agents.service")


class Provisioning:
    """Provision queues and reconcile agents, serialised (connects and reloads may race)."""

    def __init__(
        self, services: Services, pbx: Pbx, registry: TenantRegistry, agents: AgentService
    ) -> None:
        self.services, self.pbx, self.registry, self.agents = services, pbx, registry, agents
        self.provisioner = QueueProvisioner(pbx.ami)
        self.generation = -1
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        registry.on_replace(lambda _tenants: self._wake.set())

    async def sync(self) -> None:
        async with self._lock:
            limit = str(self.services.config.agents.max_call_seconds)
            await self.pbx.ami.send_action(
                "Setvar", {"Variable": "CC_MAX_CALL_SECONDS", "Value": limit}
            )
            # Always set, empty included: a global outlives the app that set it, so a trunk
            # taken out of the config would otherwise stay in use until Asterisk restarts.
            # Validated by the config: a plain endpoint name or "".
            trunk = self.services.config.agents.transfer_trunk
            await self.pbx.ami.send_action(
                "Setvar", {"Variable": "CC_TRANSFER_TRUNK", "Value": trunk}
            )
            generation = self.registry.generation
            if generation == 0:
                # Tenants not loaded yet: never provision "no queues", and members of
                # queues that do not exist yet would fail; the watcher runs once loaded.
                log.info("provisioning waits for the tenant configuration")
                return
            try:
                await self.provisioner.apply(self.registry.tenants())
            except ProvisioningError as exc:
                log.error("queues not provisioned: %s", exc)
                return
            live = self.pbx.live
            for d in self.provisioner.applied:
                if d.tenant:
                    live.state.queue_tenants[d.name] = d.tenant
            await live.refresh_queues()  # strategy, service level of new queues
            self.generation = generation
            await self.agents.reconcile_all()

    async def watch(self, interval: float = 5.0) -> None:
        """Provision again whenever the registry is replaced (woken at once by its
        ``on_replace``; the interval is only a safety net)."""
        while True:
            await wait_set(self._wake, interval)
            self._wake.clear()
            if self.pbx.ami.connected and self.registry.generation != self.generation:
                try:
                    await self.sync()
                except Exception:
                    log.exception("provisioning after a tenant reload failed")


def wire(services: Services) -> None:
    """Agent routes and queue provisioning, only when the app has a PBX (without one
    nothing is wired and no :data:`AGENTS` is provided)."""
    pbx = services.pbx
    if pbx is None:
        return
    registry = services.require(TENANTS)
    agents = AgentService(
        services.db,
        pbx.ami,
        services.config.agents.reasons,
        wrapup_seconds=services.config.agents.wrapup_seconds,
    )
    services.provide(AGENTS, agents)
    prov = Provisioning(services, pbx, registry, agents)
    services.provide(PROVISIONING, prov)
    pbx.ami.add_connect_listener(prov.sync)
    services.http_setups.append(lambda app: http.setup(app, agents, pbx.live))
    services.lifecycles.append(background("queue-provisioning", prov.watch))
    services.lifecycles.append(background("wrapup-sweep", agents.watch_wrapups))


# The provisioning itself, for tests that wait for it.
PROVISIONING: Port[Provisioning] = Port("agents.provisioning")

FEATURE = Feature("agents", models=("agents.models",), wire=wire, commands=cli.register)
