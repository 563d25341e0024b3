"""The CRM screen pop against the real Asterisk, through the real app wiring.

The app (``composition.app.make_app``: AMI, ARI, live state, IVR, CRM) runs on a migrated
PostgreSQL database; simulated callers dial a tenant's DID that goes straight to a queue
with no agent, so the call waits unanswered while we read the live state snapshot: a
known number shows the contact (id, name, VIP), an unknown number "unknown", a withheld
caller id "anonymous". The match is also on the inbound leg for the queue hand-off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.pbx.ari import AriError
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, Wait, inbound_leg_id, place_call
from callcenter.services import SERVICES, Services
from composition.app import make_app
from crm import repository as repo
from crm.contact import contact_from_mapping
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry, reload_from_files

SLUG = "popco"
DID = "+49891239900"
TENANT = f"""
slug = "{SLUG}"
name = "Screen Pop Test GmbH"
greeting = "Screen Pop Test, guten Tag"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"

[hours]
mon = ["00:00-24:00"]
tue = ["00:00-24:00"]
wed = ["00:00-24:00"]
thu = ["00:00-24:00"]
fri = ["00:00-24:00"]
sat = ["00:00-24:00"]
sun = ["00:00-24:00"]

[[dids]]
number = "{DID}"
queue = "q-default"

[routing]
voicemail_box = "{SLUG}"

[[routing.queues]]
name = "q-default"
language = "de"

[ivr]
entry = "main"
receptionist = "main"

[flows.main]
type = "queue"
queue = "q-default"
"""


@dataclasses.dataclass
class App:
    services: Services
    tenant_id: int


@pytest.fixture
async def app(pbx: Sandbox, pbx_config: Config, pg_url: str, tmp_path: Path) -> AsyncIterator[App]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / f"{SLUG}.toml").write_text(TENANT, encoding="utf-8")
    config = dataclasses.replace(
        pbx_config,
        database=dataclasses.replace(pbx_config.database, url=pg_url),
        tenants=dataclasses.replace(pbx_config.tenants, directory=tenants),
    )
    if not pbx.running():
        pbx.up()
    # Store the tenant first: the app starts from the database (the session's database
    # may already hold other tests' tenants, and then the files are not read at start-up).
    db = Database(pg_url)
    try:
        sources = PromptSources.for_pbx_root(config.pbx.root, config.app.data_dir / "recordings")
        await reload_from_files(TenantRegistry(), db, tenants, sources)
    finally:
        await db.close()
    web_app = make_app(config)
    services = web_app[SERVICES]
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        for _ in range(200):
            if services.require_pbx().ami.connected and services.require_pbx().ari.connected:
                break
            await asyncio.sleep(0.05)
        assert services.require_pbx().ami.connected and services.require_pbx().ari.connected
        async with services.db.session() as s:
            tenant_id = (await s.execute(select(Tenant.id).where(Tenant.slug == SLUG))).scalar_one()
        yield App(services, tenant_id)
    finally:
        await server.close()


async def _contact(app: App, name: str, number: str, vip: bool) -> int:
    async with app.services.db.session() as s:
        contact = await repo.create_contact(
            s,
            app.tenant_id,
            contact_from_mapping(
                {"display_name": name, "vip": vip, "numbers": [{"number": number}]}
            ),
        )
        return contact.id


async def _call(app: App, caller: str, name: str = "") -> str:
    scenario = Scenario(DID, caller, name, (Wait(30),))
    return await place_call(
        app.services.require_pbx().ari,
        app.services.config.pbx,
        scenario,
        f"pop-{uuid.uuid4().hex[:10]}",
    )


async def _matched_view(app: App, linkedid: str) -> dict[str, Any]:
    """The call's live view once the CRM match is on it (polled, 10 s at most)."""
    view: dict[str, Any] | None = None
    for _ in range(200):
        view = app.services.require_pbx().live.snapshot()["calls"].get(linkedid)
        if view is not None and view["crm_status"] is not None and view["queued_at"]:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"no CRM match in the live state of {linkedid}: {view}")


async def _hangup(app: App, channel_id: str) -> None:
    for channel in (channel_id, inbound_leg_id(channel_id)):
        try:
            await app.services.require_pbx().ari.hangup(channel)
        except AriError as exc:
            assert exc.status == 404


def _lookups(app: App) -> float:
    """``callcenter_crm_caller_lookups`` as /metrics shows it: lookups the CRM ran."""
    text = app.services.metrics.render().decode()
    found = re.search(r"^callcenter_crm_caller_lookups(?:_total)? (\S+)$", text, re.M)
    assert found is not None, "no lookup counter in /metrics"
    return float(found.group(1))


async def test_known_caller_shows_contact_before_answer(app: App) -> None:
    contact_id = await _contact(app, "Vera Wichtig", "+49 171 5554001", vip=True)
    before = _lookups(app)
    call = await _call(app, "01715554001", "Vera")  # national format, as a trunk sends it
    try:
        view = await _matched_view(app, call)
        assert view["phase"] == "queued" and view["answered_at"] is None
        assert view["tenant"] == SLUG and view["queue"] == "q-default"
        assert view["caller"] == "+491715554001"
        assert view["contact"] == str(contact_id)
        assert view["crm_status"] == "contact"
        assert view["contact_name"] == "Vera Wichtig"
        assert view["contact_vip"] is True
        # On the inbound leg too, for the queue hand-off and the agent's channel.
        leg = inbound_leg_id(call)
        assert await app.services.require_pbx().ari.get_var(leg, "CC_CONTACT") == str(contact_id)
        # The IVR asked the CRM before routing: a CRM VIP (not on the tenant's static
        # list) waits in the queue with the VIP priority.
        assert await app.services.require_pbx().ari.get_var(leg, "QUEUE_PRIO") == "10"
        # ... and that one lookup served the screen pop too: one per call, and the match
        # reached the live state over the bus, not as CRM variables on the channel.
        assert _lookups(app) - before == 1
        assert await app.services.require_pbx().ari.get_var(leg, "CC_CRM_STATUS") in ("", None)
    finally:
        await _hangup(app, call)


async def test_unknown_caller_shows_unknown(app: App) -> None:
    await _contact(app, "Someone Else", "+49 30 5550000", vip=False)
    call = await _call(app, "+4940987654321", "Stranger")
    try:
        view = await _matched_view(app, call)
        assert view["phase"] == "queued" and view["answered_at"] is None
        assert view["crm_status"] == "unknown"
        assert view["contact"] is None and view["contact_vip"] is False
        assert view["contact_name"] == "Unknown caller"
        assert await app.services.require_pbx().ari.get_var(inbound_leg_id(call), "QUEUE_PRIO") in (
            "0",
            None,
        )
    finally:
        await _hangup(app, call)


@pytest.mark.parametrize("number,name", [("", ""), ("", "Anonymous")])
async def test_anonymous_caller_works(app: App, number: str, name: str) -> None:
    call = await _call(app, number, name)
    try:
        view = await _matched_view(app, call)
        assert view["phase"] == "queued" and view["answered_at"] is None
        assert view["crm_status"] == "anonymous"
        assert view["caller"] is None and view["contact"] is None
        assert view["contact_name"] == "Anonymous" and view["contact_vip"] is False
    finally:
        await _hangup(app, call)
    # Nothing crashed: the app still serves the next (known) caller.
    follow = await _call(app, "+4940987654000")
    try:
        assert (await _matched_view(app, follow))["crm_status"] == "unknown"
    finally:
        await _hangup(app, follow)
