"""The call-control feature in the app: pickup, hold, transfer, park on live calls.

Needs the PBX, the tenants (:data:`ivr.plugin.TENANTS`) and the receptionists' positions
(:data:`agents.plugin.AGENTS`, for pickups), so it is wired after the IVR and the agents.
"""

from __future__ import annotations

from typing import cast

from agents.plugin import AGENTS
from callcenter.phone.policy import FreeNumbers
from callcenter.plugin import Feature
from callcenter.services import Services
from callcontrol import http
from callcontrol.service import CallControl
from ivr.plugin import TENANTS


def wire(services: Services) -> None:
    """Call-control routes, only when the app has a PBX."""
    pbx = services.pbx
    if pbx is None:
        return
    config = services.config
    registry = services.require(TENANTS)
    control = CallControl(
        pbx.ami,
        pbx.live,
        registry.get,
        region=config.tenants.default_region,
        free_numbers=cast(FreeNumbers, config.agents.free_transfer_numbers),
        max_call_seconds=config.agents.max_call_seconds,
    )
    agents = services.require(AGENTS)
    services.http_setups.append(lambda app: http.setup(app, control, agents))


FEATURE = Feature("callcontrol", wire=wire)
