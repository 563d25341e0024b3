"""The dialplan's route when no app takes the call (issue #8, defect 2): the tenant's queue
for the number while open, its voicemail while closed — not the member-less q-default.

Runs on the shared PBX with no ARI application connected (the state while the app is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.config import Config, PbxConfig
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.models import Channel
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, inbound_leg_id, place_call
from ivr import fallback, voicemail
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.tenancy import Tenant

pytestmark = pytest.mark.faults
PBX_ROOT = PbxConfig().root
OPEN_DID, CLOSED_DID, EN_DID = "+49301230001", "+49301230002", "+49301230003"
TEMPLATE = """
slug = "{slug}"
name = "Fallback {slug}"
greeting = "Hallo"
languages = ["de", "en"]
default_language = "de"
timezone = "Europe/Berlin"
emergency_closed = {closed}
[hours]
{hours}
[[dids]]
number = "{did}"
[[dids]]
number = "{did_en}"
language = "en"
[routing]
voicemail_box = "{slug}"
[[routing.queues]]
name = "q-{slug}-de"
language = "de"
[[routing.queues]]
name = "q-{slug}-en"
language = "en"
[ivr]
entry = "reception"
receptionist = "reception"
[flows.reception]
type = "queue"
"""
ALL_WEEK = "\n".join(
    f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def tenant(slug: str, did: str, did_en: str, *, closed: bool, tmp_path: Path) -> Tenant:
    text = TEMPLATE.format(
        slug=slug, did=did, did_en=did_en, closed=str(closed).lower(), hours=ALL_WEEK
    )
    sources = PromptSources.for_pbx_root(PBX_ROOT, tmp_path)
    return load_tenant_text(text, sources, f"<{slug}>").tenant


@pytest.fixture
def tenants(pbx: Sandbox, tmp_path: Path) -> Iterator[list[Tenant]]:
    items = [
        tenant("fbopen", OPEN_DID, EN_DID, closed=False, tmp_path=tmp_path),
        tenant("fbclosed", CLOSED_DID, "+49301230004", closed=True, tmp_path=tmp_path),
    ]
    queues = "\n".join(f"[q-fbopen-{lang}](cc-queue-defaults)" for lang in ("de", "en"))
    pbx.write_generated("queues-fbtest.conf", queues + "\n")
    pbx.reload("app_queue")
    voicemail.install(pbx, items)
    fallback.install(pbx, items)
    try:
        yield items
    finally:
        pbx.remove_generated("queues-fbtest.conf")
        pbx.remove_generated(fallback.GENERATED_FILE)
        pbx.reload("app_queue")
        pbx.reload("pbx_config")


async def where(rest: AriRest, channel_id: str, app: str, timeout: float = 10.0) -> Channel:
    """The channel once it runs dialplan application ``app``."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        for channel in await rest.channels():
            if channel.id == channel_id:
                seen = channel
                if channel.dialplan.app_name == app:
                    return channel
        await asyncio.sleep(0.1)
    raise AssertionError(f"{channel_id} not in {app} after {timeout} s; last seen {seen}")


async def test_without_the_app_calls_reach_the_tenants_queue_or_voicemail(
    pbx: Sandbox, pbx_config: Config, tenants: list[Tenant]
) -> None:
    rest = AriRest.from_config(pbx_config.pbx)
    legs = []
    try:
        for did in (OPEN_DID, EN_DID, CLOSED_DID):
            legs.append(await place_call(rest, pbx_config.pbx, Scenario.simple(did, hold=8)))
        opened = await where(rest, inbound_leg_id(legs[0]), "Queue")
        assert opened.dialplan.app_data.startswith("q-fbopen-de,")
        english = await where(rest, inbound_leg_id(legs[1]), "Queue")
        assert english.dialplan.app_data.startswith("q-fbopen-en,")
        closed = await where(rest, inbound_leg_id(legs[2]), "VoiceMail")
        assert closed.dialplan.app_data.startswith("fbclosed@fbclosed")
    finally:
        for leg in legs:
            with contextlib.suppress(AriError):  # already gone
                await rest.hangup(leg)
        await rest.close_session()


def test_open_ranges_follow_hours_holidays_and_closures(tmp_path: Path) -> None:
    text = TEMPLATE.format(
        slug="fbhours", did=OPEN_DID, did_en=EN_DID, closed="false", hours='fri = ["08:00-12:30"]'
    )
    text += '\n[holidays]\ncountry = "DE"\nstate = "BY"\n'
    sources = PromptSources.for_pbx_root(PBX_ROOT, tmp_path)
    item = load_tenant_text(text, sources, "<fbhours>").tenant
    ranges = fallback.open_ranges(item, datetime(2026, 12, 14, 0, 0, tzinfo=UTC), days=21)
    # Christmas Day and New Year's Day are Fridays and public holidays: only the 18th opens.
    assert ranges == [(202612180800, 202612181230)]
