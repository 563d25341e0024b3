"""Voicemail over the trunk: a caller at the carrier instance dials the tenant's number in
national format, goes through the IVR to voicemail over real SIP and RTP and speaks the
Korean clip; the message is stored and transcribed by real Vosk like a Local-channel call
(the voicemail feature's own fixtures, tests/integration/test_voicemail_pbx.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Play, Scenario, Wait, import_sound, place_call
from tests.integration import sip_carrier
from tests.integration.conftest import SandboxFactory
from tests.integration.test_voicemail_pbx import (  # noqa: F401 - fixtures used by name
    CALLER,
    World,
    _last_id,
    _message,
    _run_worker,
    desk,
    smtp,
    transcriber,
    world,
)
from tests.integration.voicemail_support import CLIP, CLIP_TEXT
from voicemail.accuracy import cer
from voicemail.stasis import VoicemailDesk


@pytest.fixture
async def carrier(pbx_factory: SandboxFactory, pbx: Sandbox) -> AsyncIterator[Sandbox]:
    sandbox = pbx_factory()
    await asyncio.to_thread(sip_carrier.start_carrier, sandbox, sip_carrier.ip_peer(pbx.config))
    yield sandbox


async def test_voicemail_over_the_trunk_is_stored_and_transcribed(
    world: World,  # noqa: F811 - the voicemail tests' fixtures, by name
    desk: VoicemailDesk,  # noqa: F811
    pbx: Sandbox,
    carrier: Sandbox,
) -> None:
    clip = await asyncio.to_thread(import_sound, carrier, CLIP, "vm_trunk_ko")
    carrier_ari = AriClient.from_config(carrier.config)
    before = await _last_id(world.db)
    async with sip_carrier.system_lines(pbx, sip_carrier.ip_trunk(carrier.config)):
        scenario = Scenario(
            "0891239900",  # the tenant's +49 89 1239900 as a carrier sends it nationally
            CALLER,
            "Kim",
            (
                Wait(1.5),
                Dtmf("2"),  # menu over RFC 4733 across the trunk: a message
                Wait(2.0),
                Dtmf("5"),  # skip the greeting
                Wait(1.0),
                Play(clip),
                Wait(0.5),
                Dtmf("#"),
                Wait(5.0),
            ),
            inbound_variables={"CC_PEER": sip_carrier.PEER},
        )
        out = dataclasses.replace(carrier.config, inbound_context="carrier-out")
        await place_call(carrier_ari, out, scenario, f"vmt-{uuid.uuid4().hex[:8]}")
        vm = await _run_worker(world, _message(world.db, world.tenant_id, before, timeout=60))
    assert (vm.status, vm.transcript_status) == ("stored", "done"), vm.transcript_error
    assert vm.caller_e164 == CALLER and vm.mailbox == world.slug
    assert vm.duration_seconds is not None and 4.0 <= vm.duration_seconds <= 8.0
    assert vm.transcript_text is not None
    assert cer(CLIP_TEXT, vm.transcript_text) < 0.95  # speech recognised, not noise
