"""Dependency wiring in one place: the one module that knows every concrete class.

Feature packages (``ivr``, ``crm``, ``dashboards``) receive :class:`Services` and register
their HTTP routes and background tasks; they never construct infrastructure themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.bus import Bus
from callcenter.config import Config


@dataclass
class Services:
    """Long-lived collaborators shared by every feature. Filled in by :func:`build_services`."""

    config: Config
    bus: Bus
    # Set by the wiring as the pieces land: db sessionmaker, AMI and ARI clients, live state.
    db: Any = None
    ami: Any = None
    ari: Any = None
    live: Any = None


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
