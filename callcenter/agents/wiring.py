"""Put agents, queue provisioning and call control into the running app.

On every AMI (re)connect: provision the tenant queues (once tenants are loaded), then
restore every agent's wanted membership from the database. The registry's ``on_replace``
wakes a watcher that provisions again after a tenant reload (here or, through the bus, on
another instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from aiohttp import web

from callcenter.agents import http
from callcenter.agents.provisioning import ProvisioningError, QueueProvisioner
from callcenter.agents.service import AgentService
from callcenter.bootstrap import Services
from callcenter.callcontrol.service import CallControl
from callcenter.phone.policy import FreeNumbers

log = logging.getLogger(__name__)


class Provisioning:
    """Provision queues and reconcile agents, serialised (connects and reloads may race)."""

    def __init__(self, services: Services, registry: Any, agents: AgentService) -> None:
        self.services, self.registry, self.agents = services, registry, agents
        self.provisioner = QueueProvisioner(services.ami)
        self.generation = -1
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        registry.on_replace(lambda _tenants: self._wake.set())

    async def sync(self) -> None:
        async with self._lock:
            limit = str(self.services.config.agents.max_call_seconds)
            await self.services.ami.send_action(
                "Setvar", {"Variable": "CC_MAX_CALL_SECONDS", "Value": limit}
            )
            trunk = self.services.config.agents.transfer_trunk
            if trunk:  # validated by the config: a plain endpoint name
                await self.services.ami.send_action(
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
            live = self.services.live
            if live is not None:
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            ami = self.services.ami
            if ami.connected and self.registry.generation != self.generation:
                try:
                    await self.sync()
                except Exception:
                    log.exception("provisioning after a tenant reload failed")


def wire_agents(services: Services, registry: Any) -> Provisioning | None:
    """Agent and call-control routes plus PBX work, only when the app has a PBX
    (``services.ami``); without one nothing is wired and ``None`` is returned."""
    config = services.config
    if services.ami is None:
        return None
    agents = AgentService(services.db, services.ami, config.agents.reasons)
    live = services.live
    control = CallControl(
        services.ami,
        lambda: live.state,
        registry.get,
        region=config.tenants.default_region,
        free_numbers=cast(FreeNumbers, config.agents.free_transfer_numbers),
        max_call_seconds=config.agents.max_call_seconds,
    )
    prov = Provisioning(services, registry, agents)
    services.ami.add_connect_listener(prov.sync)
    services.http_setups.append(lambda app: http.setup(app, agents, control, live))

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(prov.watch(), name="queue-provisioning")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    services.lifecycles.append(lifecycle)
    return prov
