"""Simulated callers: scenario encoding, and real calls through the sandbox's inbound context."""

from __future__ import annotations

import argparse
import array
import asyncio
import io
import math
import time
import uuid
import wave
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.pbx.ari import AriClient, AriError, AriRest, for_channel
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import (
    Dtmf,
    Play,
    Scenario,
    ScenarioError,
    Wait,
    import_sound,
    inbound_leg_id,
    parse_caller,
    place_call,
    place_calls,
    register,
)

SPEECH = Path(__file__).parents[1] / "fixtures" / "audio" / "en_librispeech_61-70968-0000.wav"


def test_simple_scenario_encodes_steps_in_order() -> None:
    s = Scenario.simple("+4930123", "+4917000", "Erika", wait=1.5, dtmf="12#", play="x", hold=3)
    assert s.steps == (Wait(1.5), Dtmf("12#"), Play("x"), Wait(3))
    assert s.encode_steps() == "w:1.5^d:12#^p:x^w:3"
    assert s.caller_id == '"Erika" <+4917000>'
    assert s.duration == 4.5
    assert Scenario("+49301").caller_id is None
    assert Scenario.simple("1", hold=0).encode_steps() == ""


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        (Scenario("49-30"), "did"),
        (Scenario("+4930", caller_number="+49 30"), "caller number"),
        (Scenario("+4930", caller_name='Evil" <1>'), "caller name"),
        (Scenario("+4930", caller_name="line\r\nAction: Hangup"), "caller name"),
        (Scenario("+4930", steps=(Dtmf("12x"),)), "dtmf"),
        (Scenario("+4930", steps=(Wait(-1),)), "wait"),
        (Scenario("+4930", steps=(Wait(math.nan),)), "wait"),
        (Scenario("+4930", steps=(Play("a^w:1"),)), "play"),
        (Scenario("+4930", steps=(Play("../../etc/passwd"),)), "play"),
        (Scenario("+4930", inbound_variables={"A B": "1"}), "inbound variable"),
    ],
)
def test_invalid_scenarios_name_the_field(scenario: Scenario, field: str) -> None:
    with pytest.raises(ScenarioError, match=field):
        scenario.validate()


def test_parse_caller() -> None:
    assert parse_caller("Anna Muster <+4930123>") == ("+4930123", "Anna Muster")
    assert parse_caller('"Anna" <+4930123>') == ("+4930123", "Anna")
    assert parse_caller("+4930123") == ("+4930123", "")


async def test_simulated_call_reaches_inbound_context_and_hangs_up_on_schedule(
    ari: AriClient, pbx_config: Config
) -> None:
    scenario = Scenario.simple(
        "+4930111222", "+4917012345", "Erika Muster", wait=0.5, dtmf="12", hold=1.5
    )
    with ari.subscribe() as events:
        caller = await place_call(ari, pbx_config.pbx, scenario)
        leg = inbound_leg_id(caller)
        start = await events.wait_for("StasisStart", for_channel(leg))
        assert start.args == ["inbound"]
        channel = start.channel
        assert channel is not None
        assert channel.caller.number == "+4917012345"
        assert channel.caller.name == "Erika Muster"
        assert channel.dialplan.context == pbx_config.pbx.inbound_context
        assert channel.dialplan.exten == "+4930111222"
        assert await ari.get_var(leg, "CC_DID") == "+4930111222"
        await ari.answer(leg)  # the caller's script starts once the inbound leg answers
        answered = time.monotonic()
        digits = ""
        while len(digits) < 2:
            digits += (await events.wait_for("ChannelDtmfReceived", for_channel(leg))).digit
        assert digits == "12"
        await events.wait_for("StasisEnd", for_channel(leg), timeout=15)
        elapsed = time.monotonic() - answered
    # wait 0.5 s + two digits + hold 1.5 s; generous upper bound for a loaded machine.
    assert scenario.duration <= elapsed < scenario.duration + 8


async def test_simulated_caller_plays_imported_speech(
    ari: AriClient, pbx: Sandbox, pbx_config: Config
) -> None:
    media = import_sound(pbx, SPEECH, name="sim_speech")
    assert media == pbx.sound_path("sim_speech")
    with wave.open(str(pbx.sounds_dir / "sim_speech.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    scenario = Scenario("+4930999", "+4915100", steps=(Play(media), Wait(1)))
    with ari.subscribe() as events:
        caller = await place_call(ari, pbx_config.pbx, scenario)
        leg = inbound_leg_id(caller)
        await events.wait_for("StasisStart", for_channel(leg))
        await ari.answer(leg)
        name = f"sim-{caller}"
        await ari.record(leg, name, max_duration=3, if_exists="overwrite")
        await events.wait_for(
            "RecordingFinished", lambda e: e.recording is not None and e.recording.name == name
        )
    data = await ari.download_recording(name)
    await ari.delete_recording(name)
    with wave.open(io.BytesIO(data)) as w:
        samples = array.array("h", w.readframes(w.getnframes()))
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    assert rms > 200  # speech came through, not silence
    try:
        await ari.hangup(leg)
    except AriError as exc:
        assert exc.status == 404


def test_import_sound_rejects_missing_file(pbx: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        import_sound(pbx, tmp_path / "nope.wav")


async def test_simulate_command_places_calls(
    ari: AriClient, pbx_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="callcenter")
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "simulate",
            "--did",
            "+49 30 222333",  # as tenant files write it (issue #8, defect 13)
            "--calls",
            "2",
            "--rate",
            "20",
            "--caller",
            "Sim {n} <+49170000{n}>",
            "--hold",
            "0.5",
        ]
    )
    with ari.subscribe() as events:
        code = await asyncio.to_thread(args.func, pbx_config, args)
        assert code == 0
        seen = {}
        for _ in range(2):
            ev = await events.wait_for(
                "StasisStart", lambda e: e.channel is not None and e.channel.id.endswith("-in")
            )
            assert ev.channel is not None
            seen[ev.channel.caller.number] = ev.channel.caller.name
            await ari.hangup(ev.channel.id)
    assert seen == {"+491700001": "Sim 1", "+491700002": "Sim 2"}
    out = capsys.readouterr().out
    assert "placed 2 of 2 calls to +4930222333" in out


def test_simulate_command_reports_bad_input(
    pbx_config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="callcenter")
    register(parser.add_subparsers())
    args = parser.parse_args(["simulate", "--did", "+4930", "--dtmf", "12x"])
    assert args.func(pbx_config, args) == 2
    assert "dtmf" in capsys.readouterr().err


async def test_simulated_call_through_queue_to_local_agent(
    ari: AriClient, pbx: Sandbox, pbx_config: Config
) -> None:
    """Inbound -> Stasis -> continue to cc-queue -> auto-answering Local agent -> hang-up."""
    agent = f"agent{uuid.uuid4().int % 10**8}"
    queue = f"q-sim{uuid.uuid4().hex[:8]}"
    conf = f"queues-{queue}.conf"
    pbx.write_generated(
        conf,
        f"[{queue}](cc-queue-defaults)\nmember => Local/{agent}@agents/n,0,Sim,Custom:{agent}\n",
    )
    await asyncio.to_thread(pbx.reload, "app_queue")
    try:
        pbx.cli(f"devstate change Custom:{agent} NOT_INUSE")
        pbx.cli(f"dialplan set global CC_AGENT_TALK_SECONDS_{agent} 1")
        scenario = Scenario.simple("+4930444555", "+4916099", "Queue Caller", hold=15)
        with ari.subscribe() as events:
            leg = inbound_leg_id(await place_call(ari, pbx_config.pbx, scenario))
            await events.wait_for("StasisStart", for_channel(leg))
            await ari.continue_in_dialplan(leg, "cc-queue", queue, 1)
            await events.wait_for("StasisEnd", for_channel(leg))
        verbs: list[str] = []
        for _ in range(100):  # the agent talks 1 s, then hangs up
            lines = pbx.queue_log.read_text().splitlines()
            verbs = [ln.split("|")[4] for ln in lines if f"|{leg}|{queue}|" in ln]
            if "COMPLETEAGENT" in verbs:
                break
            await asyncio.sleep(0.1)
        assert verbs[:3] == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
        assert f"Custom:{agent}" in pbx.cli(f"queue show {queue}")
    finally:
        pbx.remove_generated(conf)
        await asyncio.to_thread(pbx.reload, "app_queue")


async def test_place_calls_reports_each_outcome(ari: AriClient, pbx_config: Config) -> None:
    good = Scenario.simple("+4930777888", "+4930001", hold=0.2)
    with ari.subscribe() as events:
        placed = await place_calls(ari, pbx_config.pbx, [good, good], rate=50)
        assert [p.index for p in placed] == [0, 1]
        assert all(p.channel_id and p.error is None for p in placed)
        for p in placed:
            assert p.channel_id is not None
            leg = inbound_leg_id(p.channel_id)
            await events.wait_for("StasisStart", for_channel(leg))
            await ari.hangup(leg)
    pbx = pbx_config.pbx
    refused = AriRest(f"http://{pbx.host}:{pbx.http_port}", pbx.ari_username, "wrong", pbx.ari_app)
    try:
        failed = await place_calls(refused, pbx, [good], rate=50)
    finally:
        await refused.close_session()
    assert failed[0].channel_id is None
    assert failed[0].error is not None and "401" in failed[0].error
