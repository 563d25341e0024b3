"""Every bus topic, and the event types more than one package reads, in one place.

The events on ``calls``, ``queues`` and ``agents`` are documented at the top of
:mod:`callcenter.state.effects`; docs/architecture.md has the whole catalogue.
"""

from __future__ import annotations

TOPIC_CALLS = "calls"  # the live state's call events, and the CRM's caller match
TOPIC_QUEUES = "queues"
TOPIC_AGENTS = "agents"
TOPIC_TENANTS_RELOADED = "ivr.tenants.reloaded"  # tenant files stored: reload from the DB
TOPIC_CALLBACKS = "callbacks"
TOPIC_VOICEMAIL = "voicemail"
TOPIC_PHONES_CHANGED = "lines.phones.changed"

# On TOPIC_CALLS: the caller of a call identified (once per call, by the CRM):
# ``linkedid``, ``tenant``, ``channel`` (the leg that got the tenant) and ``match``
# (``status``: contact/organisation/unknown/anonymous/invalid, ``contact_id``, ``label``,
# ``vip`` …). The live state, the dashboards and the webhooks take the contact from it.
CALLER_MATCHED = "crm.match"
