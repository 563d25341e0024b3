"""The features of the app, in wiring order (a feature may use what earlier ones provide).

Adding a feature: give its package a ``plugin.py`` exporting ``FEATURE`` (see
:mod:`callcenter.plugin` and ``docs/architecture.md``) and add it here.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import agents.plugin
import callbacks.plugin
import callcontrol.plugin
import crm.plugin
import dashboards.plugin
import ivr.plugin
import jobs.plugin
import lines.plugin
import stats.plugin
import voicemail.plugin
from callcenter.db import migrate
from callcenter.plugin import Feature

FEATURES: tuple[Feature, ...] = (
    jobs.plugin.FEATURE,  # first: provides the registry every feature adds its tasks to
    crm.plugin.FEATURE,  # before the IVR: sets services.caller_lookup
    ivr.plugin.FEATURE,  # provides the tenant registry
    callbacks.plugin.FEATURE,  # the IVR's callback hand-off, the key desk, the dialler
    agents.plugin.FEATURE,  # provides the agent service
    callcontrol.plugin.FEATURE,
    lines.plugin.FEATURE,  # trunks and phones (needs the tenants)
    voicemail.plugin.FEATURE,  # tasks (jobs), the voicemail Stasis purpose, the inbox
    stats.plugin.FEATURE,  # rollups follow services.call_stored
    dashboards.plugin.FEATURE,  # the web application (needs the tenants); provides PAGES
)


def model_modules() -> tuple[str, ...]:
    """Every feature's model modules (the core's are added by :mod:`callcenter.db.migrate`)."""
    return tuple(name for feature in FEATURES for name in feature.models)


def target_metadata() -> MetaData:
    """The whole schema (core and features), for the drift check and autogenerate."""
    return migrate.target_metadata(model_modules())
