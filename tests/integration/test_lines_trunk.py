"""Calls over a real PJSIP trunk: a second Asterisk plays the carrier (SIP and RTP on
loopback). Calls enter with the number formats carriers send and reach the IVR and a
queue; calls leave through the trunk with the tenant's number; speech crosses real RTP."""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import math
import statistics
import subprocess
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.pbx.ari import AriClient, Subscription
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Scenario, Wait, place_call
from tests.integration import sip_carrier
from tests.integration.conftest import SandboxFactory
from tests.integration.test_ivr_pbx import (
    OPEN,
    TENANT,
    make_runner,
    played_until_stasis_end,
    queued_variables,
)

SPEECH = Path(__file__).parents[1] / "fixtures" / "audio" / "en_librispeech_61-70968-0000.wav"


@pytest.fixture
async def carrier(pbx_factory: SandboxFactory, pbx: Sandbox) -> AsyncIterator[Sandbox]:
    sandbox = pbx_factory()
    await asyncio.to_thread(sip_carrier.start_carrier, sandbox, sip_carrier.ip_peer(pbx.config))
    yield sandbox


@pytest.fixture
async def carrier_ari(carrier: Sandbox) -> AsyncIterator[AriClient]:
    client = AriClient.from_config(carrier.config)
    await client.start()
    try:
        await client.wait_connected(timeout=10.0)
        yield client
    finally:
        await client.close()


async def _trunk_leg(events: Subscription) -> AriEvent:
    """The next call entering the system's Stasis over the trunk (not a Local channel)."""
    return await events.wait_for(
        "StasisStart",
        lambda e: e.channel is not None and e.channel.name.startswith("PJSIP/trunk-carrier"),
        timeout=15,
    )


async def test_carrier_number_formats_reach_the_ivr_and_the_queue(  # noqa: PLR0917 - fixtures
    pbx: Sandbox,
    carrier: Sandbox,
    ari: AriClient,
    carrier_ari: AriClient,
    pbx_config: Config,
    tmp_path: Path,
) -> None:
    # A longer menu timeout than the IVR tests': over SIP the caller's DTMF may come
    # after the prompt on a loaded machine; the test is about the number, not timing.
    make_runner(
        ari, pbx_config, tmp_path, OPEN, document=TENANT.replace("timeout = 1.5", "timeout = 6")
    )
    out = dataclasses.replace(carrier.config, inbound_context="carrier-out")
    # (Request-URI user, P-Called-Party-ID): what German carriers put in an INVITE.
    formats = [
        ("+49891230000", ""),  # E.164
        ("0049891230000", ""),  # international with 00
        ("0891230000", ""),  # national with the trunk prefix
        ("891230000", ""),  # national without the trunk prefix
        ("0", "+49891230000"),  # no user in the Request-URI, the DID in P-Called-Party-ID
    ]
    async with sip_carrier.system_lines(pbx, sip_carrier.ip_trunk(carrier.config)):
        with ari.subscribe() as events:
            for ruri, pcpi in formats:
                scenario = Scenario(
                    ruri,
                    "+4930123456",
                    "Carrier caller",
                    (Wait(2.0), Dtmf("1"), Wait(8.0)),
                    inbound_variables={"CC_PEER": sip_carrier.PEER, "CC_PCPI": pcpi},
                )
                await place_call(carrier_ari, out, scenario)
                start = await _trunk_leg(events)
                assert start.channel is not None
                leg = start.channel.id
                try:
                    assert start.channel.caller.number == "+4930123456"
                    played = await played_until_stasis_end(events, leg)
                    assert played == [("sound:vm-reachoper", "de")], (ruri, pcpi)
                    variables = await queued_variables(ari, leg)
                    assert (variables["exten"], variables["CC_TENANT"]) == (
                        "q-default",
                        "pbxtest",
                    ), (ruri, pcpi, variables)
                    assert await ari.get_var(leg, "CC_DID") == "+49891230000"
                    assert await ari.get_var(leg, "CC_TRUNK") == "carrier"
                    # The carrier offered alaw first; our G.722-first preference won.
                    codec = await ari.get_var(leg, "CHANNEL(audionativeformat)")
                    assert codec == "(g722)", codec
                finally:
                    await ari.hangup(leg)


def _speech_wav16(pbx: Sandbox) -> str:
    """The speech clip as 16 kHz WAV in the system's sounds (wideband end to end)."""
    target = pbx.sounds_dir / "lines-speech.wav16"
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(SPEECH)) as src, wave.open(str(target), "wb") as dst:
        assert (src.getframerate(), src.getnchannels(), src.getsampwidth()) == (16000, 1, 2)
        dst.setparams(src.getparams())
        dst.writeframes(src.readframes(src.getnframes()))
    return pbx.sound_path("lines-speech")


def _envelope(pcm: bytes, rate: int) -> list[float]:
    """RMS per 20 ms frame of 16-bit mono PCM."""
    step = rate // 50
    samples = array.array("h", pcm)
    out = []
    for i in range(0, len(samples) - step + 1, step):
        frame = samples[i : i + step]
        out.append(math.sqrt(sum(x * x for x in frame) / step))
    return out


def _best_correlation(a: list[float], b: list[float], max_lag: int = 150) -> float:
    """Pearson correlation of two envelopes at the best lag of ``b`` behind ``a``."""
    best = -1.0
    for lag in range(max_lag):
        pairs = list(zip(a, b[lag:], strict=False))
        if len(pairs) < 50:
            break
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        best = max(best, statistics.correlation(xs, ys))
    return best


async def test_callback_leaves_through_the_trunk_and_speech_crosses_rtp(
    pbx: Sandbox, carrier: Sandbox, ari: AriClient, carrier_ari: AriClient, tmp_path: Path
) -> None:
    """A callback dialled into cc-outbound with the tenant set: the carrier sees the
    number in its national format, the tenant's own number as caller id, G.722, and the
    speech clip played on our side arrives as the same speech (envelope correlation)."""
    media = await asyncio.to_thread(_speech_wav16, pbx)
    async with sip_carrier.system_lines(pbx, sip_carrier.ip_trunk(carrier.config)):
        with carrier_ari.subscribe() as cevents:
            await ari.originate(
                "Local/+4930999888@cc-outbound",
                context="caller-script",
                extension="s",
                variables={"CC_TENANT": "pbxtest", "CC_SIM_STEPS": f"w:1^p:{media}^w:1"},
                formats=["slin16"],
                channel_id=f"cb-{uuid.uuid4().hex[:8]}",
            )
            start = await cevents.wait_for("StasisStart", timeout=15)
            assert start.channel is not None
            leg = start.channel.id
            assert start.channel.dialplan.exten == "030999888"  # number_format = national
            assert start.channel.caller.number == "+49891230000"  # the tenant's own number
            name = f"speech-{uuid.uuid4().hex[:8]}"
            await carrier_ari.answer(leg)
            await carrier_ari.record(leg, name, format="wav16", max_duration=20)
            rx = await _rtp_received_until_hangup(carrier, cevents)
            finished = await cevents.wait_for(("RecordingFinished", "RecordingFailed"), timeout=10)
            assert finished.type == "RecordingFinished"
            recorded = await carrier_ari.download_recording(name)
    with wave.open(str(SPEECH)) as clip:
        packets = clip.getnframes() / clip.getframerate() / 0.020  # 20 ms each: 245
    # Asterisk's own count, last read up to 0.5 s before the hang-up.
    assert rx >= 0.8 * packets, (rx, packets)
    got_path = tmp_path / "got.wav"
    got_path.write_bytes(recorded)
    with wave.open(str(got_path)) as got, wave.open(str(SPEECH)) as sent:
        assert got.getframerate() == 16000
        corr = _best_correlation(
            _envelope(sent.readframes(sent.getnframes()), 16000),
            _envelope(got.readframes(got.getnframes()), 16000),
        )
    assert corr > 0.8, corr  # the same speech, not noise or silence
    # Wideband arrived: G.722 carries 4-7 kHz, which G.711 would have cut off (about 0.09
    # of the clip's energy is up there; through an 8 kHz path it is about 0.0003).
    assert _high_band_share(got_path) > 0.03


async def _rtp_received_until_hangup(carrier: Sandbox, events: Subscription) -> int:
    """RTP packets the carrier received on its trunk channel (``pjsip show channelstats``,
    Asterisk's own count), read every 0.5 s until the call is hung up."""
    received = 0
    while True:
        out = await asyncio.to_thread(carrier.cli, "pjsip show channelstats")
        seen = sip_carrier.rtp_received(out, sip_carrier.PEER)
        if seen is not None:
            received = max(received, seen[1])
        with contextlib.suppress(TimeoutError):
            await events.wait_for("ChannelHangupRequest", timeout=0.5)
            return received


def _high_band_share(path: Path) -> float:
    """RMS above 4.3 kHz ÷ RMS of the whole signal (sox)."""

    def rms(*effect: str) -> float:
        out = subprocess.run(
            ["sox", str(path), "-n", *effect, "stat"], capture_output=True, text=True, check=True
        ).stderr
        line = next(x for x in out.splitlines() if x.startswith("RMS     amplitude"))
        return float(line.split()[-1])

    return rms("sinc", "4.3k") / rms()


async def test_blind_transfer_leaves_through_the_trunk_with_clip_no_screening(
    pbx: Sandbox, carrier: Sandbox, ari: AriClient, carrier_ari: AriClient, pbx_config: Config
) -> None:
    """A caller from the carrier is transferred out (AMI Redirect to cc-transfer, as call
    control does): the carrier sees the original caller in From and the tenant's number
    (the DID called) in P-Asserted-Identity."""
    out = dataclasses.replace(carrier.config, inbound_context="carrier-out")
    trunks = sip_carrier.ip_trunk(carrier.config, clip_no_screening=True)
    async with sip_carrier.system_lines(pbx, trunks) as lines:
        # As an app without agents.transfer_trunk leaves it: the trunk file's routes decide.
        await lines.ami.send_action("Setvar", {"Variable": "CC_TRANSFER_TRUNK", "Value": ""})
        with ari.subscribe() as events, carrier_ari.subscribe() as cevents:
            scenario = Scenario(
                "+49891230000",
                "+4930123456",
                "Caller",
                (Wait(10.0),),
                inbound_variables={"CC_PEER": sip_carrier.PEER},
            )
            await place_call(carrier_ari, out, scenario)
            start = await _trunk_leg(events)
            assert start.channel is not None
            reply = await lines.ami.send_action(
                "Redirect",
                {
                    "Channel": start.channel.name,
                    "Context": "cc-transfer",
                    "Exten": "+4940555666",
                    "Priority": "1",
                },
            )
            assert reply.get("Response") == "Success", reply.headers
            target = await cevents.wait_for(
                "StasisStart",
                lambda e: e.channel is not None and e.channel.dialplan.exten == "040555666",
                timeout=15,
            )
            assert target.channel is not None
            assert target.channel.caller.number == "+4930123456"
            pai = await carrier_ari.get_var(target.channel.id, "CC_PAI")
            assert pai is not None and "+49891230000@" in pai
            await carrier_ari.hangup(target.channel.id)
