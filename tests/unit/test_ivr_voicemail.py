"""voicemail.conf mailboxes generated from tenants."""

from __future__ import annotations

import dataclasses

import pytest

from ivr.flow import Node
from ivr.testing import make_tenant
from ivr.voicemail import VoicemailConfigError, mailboxes, voicemail_conf


def test_one_context_per_tenant_with_its_boxes() -> None:
    tenant = make_tenant()
    flow = tenant.flow
    nodes = {**flow.nodes, "vm2": Node("vm2", "voicemail", mailbox="acme-sales")}
    tenant = dataclasses.replace(
        tenant,
        name="ACME, GmbH [Süd]",
        flow=dataclasses.replace(flow, nodes=nodes),
        routing=dataclasses.replace(tenant.routing, voicemail_box="acme"),
    )
    other = make_tenant(slug="beta", name="Beta AG")
    text = voicemail_conf([tenant, other])
    assert "[acme]\nacme => ,ACME  GmbH  Süd\nacme-sales => ,ACME  GmbH  Süd\n" in text
    assert "[beta]\nbeta => ,Beta AG\n" in text
    assert text.index("[acme]") < text.index("[beta]")


def test_mailbox_that_is_no_extension_is_refused() -> None:
    tenant = make_tenant()
    tenant = dataclasses.replace(
        tenant, routing=dataclasses.replace(tenant.routing, voicemail_box="Sales Box")
    )
    with pytest.raises(VoicemailConfigError, match="'Sales Box'"):
        mailboxes(tenant)
