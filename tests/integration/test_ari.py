"""The ARI client against the real Asterisk sandbox."""

from __future__ import annotations

import asyncio
import io
import uuid
import wave
from collections.abc import AsyncIterator

import pytest

from callcenter.config import Config
from callcenter.pbx.ari import (
    AriClient,
    AriError,
    AriEvent,
    EventParseError,
    LatencyStats,
    Subscription,
    for_channel,
    query,
)
from callcenter.pbx.ari.events import parse_event
from callcenter.pbx.sandbox import Sandbox

from .conftest import SandboxFactory


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def events(ari: AriClient) -> AsyncIterator[Subscription]:
    with ari.subscribe() as sub:
        yield sub


async def _caller_in_stasis(
    ari: AriClient, events: Subscription, steps: str = "w:30", args: tuple[str, ...] = ()
) -> str:
    """Originate Local/s@caller-script: our half enters Stasis, the other runs ``steps``."""
    channel_id = _id("t")
    await ari.originate(
        "Local/s@caller-script",
        app_args=list(args) or None,
        channel_id=channel_id,
        other_channel_id=f"{channel_id}-2",
        variables={"_CC_SIM_STEPS": steps},  # "_": inherited by the other (script) half
        caller_id='"Test Caller" <+4930123456>',
    )
    await events.wait_for("StasisStart", for_channel(channel_id))
    return channel_id


async def _hangup_quietly(ari: AriClient, *channel_ids: str) -> None:
    for channel_id in channel_ids:
        try:
            await ari.hangup(channel_id)
        except AriError as exc:
            assert exc.status == 404


def test_query_values_are_strings() -> None:
    assert query({"beep": True, "x": False, "n": 3, "m": ["a", "b"], "none": None}) == {
        "beep": "true",
        "x": "false",
        "n": "3",
        "m": "a,b",
    }


def test_parse_event_types_and_errors() -> None:
    ev = parse_event(
        '{"type":"ChannelDtmfReceived","application":"cc","timestamp":"t","digit":"5",'
        '"channel":{"id":"c1","name":"Local/x","state":"Up","caller":{"name":"A","number":"1"},'
        '"dialplan":{"context":"from-trunk","exten":"+49","priority":3}}}'
    )
    assert (ev.type, ev.application, ev.digit, ev.channel_id) == (
        "ChannelDtmfReceived",
        "cc",
        "5",
        "c1",
    )
    assert ev.channel is not None and ev.channel.dialplan.priority == 3
    assert ev.channel.caller.name == "A" and ev.playback is None and ev.args == []
    with pytest.raises(EventParseError, match="not JSON"):
        parse_event("{oops")
    with pytest.raises(EventParseError, match="no 'type'"):
        parse_event('{"application": "cc"}')


def test_latency_percentiles() -> None:
    stats = LatencyStats(size=100)
    assert stats.percentile(0.99) == 0.0
    for ms in range(1, 201):  # only the latest 100 (101..200 ms) are kept
        stats.add(ms / 1000)
    summary = stats.summary()
    assert summary.count == 100 and stats.total == 200
    assert summary.p50 == 0.150
    assert summary.p99 == 0.199
    assert summary.max == 0.200


async def test_asterisk_info_and_latency(ari: AriClient) -> None:
    info = await ari.asterisk_info()
    assert info.version.startswith("22.")
    assert ari.connected
    assert ari.latency.summary().count >= 1
    assert ari.latency.percentile(0.99) > 0


async def test_stasis_start_carries_args_and_caller(ari: AriClient, events: Subscription) -> None:
    channel_id = _id("t")
    await ari.originate(
        "Local/s@caller-script",
        app_args=["hello", "world"],
        channel_id=channel_id,
        variables={"_CC_SIM_STEPS": "w:30"},
        caller_id='"Test Caller" <+4930123456>',
    )
    try:
        start = await events.wait_for("StasisStart", for_channel(channel_id))
        assert start.args == ["hello", "world"]
        assert start.application == ari.app
        channel = start.channel
        assert channel is not None and channel.name.startswith("Local/s@caller-script")
        assert channel.caller.number == "+4930123456"
        listed = [c.id for c in await ari.channels()]
        assert channel_id in listed
        assert (await ari.channel(channel_id)).state == "Up"
    finally:
        await _hangup_quietly(ari, channel_id)
    end = await events.wait_for("StasisEnd", for_channel(channel_id))
    assert end.channel_id == channel_id


async def test_answer_and_play_english_and_german(ari: AriClient, events: Subscription) -> None:
    channel_id = await _caller_in_stasis(ari, events)
    try:
        await ari.answer(channel_id)
        pb = await ari.play(channel_id, "sound:hello-world", lang="en", playback_id=_id("pb"))
        started = await events.wait_for("PlaybackStarted", lambda e: _pb_id(e) == pb.id)
        assert started.playback is not None
        assert started.playback.media_uri == "sound:hello-world"
        assert started.playback.language == "en"
        await events.wait_for("PlaybackFinished", lambda e: _pb_id(e) == pb.id)

        pb_de = await ari.play(channel_id, ["sound:vm-intro"], lang="de")
        finished = await events.wait_for(
            "PlaybackFinished", lambda e: _pb_id(e) == pb_de.id, timeout=20
        )
        assert finished.playback is not None
        assert finished.playback.language == "de"
        assert finished.playback.media_uri == "sound:vm-intro"
        assert finished.playback.state == "done"

        # Stopping a running playback ends it at once (needed before recording starts).
        long = await ari.play(channel_id, "sound:hello-world", lang="en")
        await events.wait_for("PlaybackStarted", lambda e: _pb_id(e) == long.id)
        await ari.stop_playback(long.id)
        stopped = await events.wait_for("PlaybackFinished", lambda e: _pb_id(e) == long.id)
        assert stopped.playback is not None and stopped.playback.state in ("done", "cancelled")
    finally:
        await _hangup_quietly(ari, channel_id)


def _pb_id(event: AriEvent) -> str | None:
    return event.playback.id if event.playback else None


async def test_record_download_and_delete(
    ari: AriClient, events: Subscription, pbx: Sandbox
) -> None:
    # The script half plays a prompt into the call; our half records what it hears.
    channel_id = await _caller_in_stasis(ari, events, steps="p:hello-world^w:30")
    name = _id("rec")
    try:
        rec = await ari.record(
            channel_id, name, format="wav", max_duration=2, if_exists="overwrite"
        )
        assert rec.name == name
        done = await events.wait_for(
            ("RecordingFinished", "RecordingFailed"),
            lambda e: e.recording is not None and e.recording.name == name,
            timeout=15,
        )
        assert done.type == "RecordingFinished"
    finally:
        await _hangup_quietly(ari, channel_id)
    assert name in [r.name for r in await ari.stored_recordings()]
    data = await ari.download_recording(name)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as w:
        assert w.getframerate() == 8000
        assert w.getnchannels() == 1
        seconds = w.getnframes() / w.getframerate()
    assert 1.0 <= seconds <= 2.5
    assert (pbx.recordings_dir / f"{name}.wav").exists()
    await ari.delete_recording(name)
    with pytest.raises(AriError) as info:
        await ari.download_recording(name)
    assert info.value.status == 404


async def test_bridge_two_channels_and_record_bridge(ari: AriClient, events: Subscription) -> None:
    a = await _caller_in_stasis(ari, events)
    b = await _caller_in_stasis(ari, events)
    bridge = await ari.create_bridge(name="test-bridge", bridge_id=_id("br"))
    try:
        await ari.add_channel(bridge.id, [a, b])
        for ch in (a, b):
            await events.wait_for("ChannelEnteredBridge", for_channel(ch))
        assert set((await ari.bridge(bridge.id)).channels) == {a, b}
        rec_name = _id("brrec")
        await ari.record_bridge(bridge.id, rec_name, max_duration=1, if_exists="overwrite")
        await events.wait_for(
            "RecordingFinished",
            lambda e: e.recording is not None and e.recording.name == rec_name,
            timeout=10,
        )
        await ari.delete_recording(rec_name)
        await ari.remove_channel(bridge.id, [b])
        await events.wait_for("ChannelLeftBridge", for_channel(b))
        assert (await ari.bridge(bridge.id)).channels == (a,)
    finally:
        await ari.destroy_bridge(bridge.id)
        await _hangup_quietly(ari, a, b)
    # Destruction completes asynchronously (the channels are pushed out first).
    status = 200
    for _ in range(100):
        try:
            await ari.bridge(bridge.id)
        except AriError as exc:
            status = exc.status
            break
        await asyncio.sleep(0.05)
    assert status == 404


async def test_continue_in_dialplan(ari: AriClient, events: Subscription) -> None:
    channel_id = await _caller_in_stasis(ari, events)
    try:
        await ari.set_var(channel_id, "CC_TEST", "kept")
        assert await ari.get_var(channel_id, "CC_TEST") == "kept"
        assert await ari.get_var(channel_id, "CC_NEVER_SET") is None
        with pytest.raises(AriError, match="channel was not found"):
            await ari.get_var("no-such-channel", "CC_TEST")
        await ari.continue_in_dialplan(channel_id, "agents", "agent7", 1)
        await events.wait_for("StasisEnd", for_channel(channel_id))
        for _ in range(50):  # the dialplan runs asynchronously after StasisEnd
            if await ari.get_var(channel_id, "CC_AGENT") == "agent7":
                break
            await asyncio.sleep(0.05)
        channel = await ari.channel(channel_id)
        assert channel.dialplan.context == "agents"
        assert channel.dialplan.exten == "agent7"
        assert await ari.get_var(channel_id, "CC_TEST") == "kept"
    finally:
        await _hangup_quietly(ari, channel_id)


async def test_dtmf_from_other_leg_arrives(ari: AriClient, events: Subscription) -> None:
    channel_id = await _caller_in_stasis(ari, events, steps="w:0.3^d:42#^w:30")
    try:
        digits = ""
        while len(digits) < 3:
            ev = await events.wait_for("ChannelDtmfReceived", for_channel(channel_id))
            digits += ev.digit
        assert digits == "42#"
    finally:
        await _hangup_quietly(ari, channel_id)


async def test_channel_controls(ari: AriClient, events: Subscription) -> None:
    channel_id = await _caller_in_stasis(ari, events)
    try:
        await ari.moh_start(channel_id)
        await ari.moh_stop(channel_id)
        await ari.hold(channel_id)  # a hold indication towards the far end (no own event)
        await ari.unhold(channel_id)
        await ari.ring(channel_id)
        await ari.ring_stop(channel_id)
        await ari.send_dtmf(channel_id, "1", duration=100)
        snoop = await ari.snoop(channel_id, spy="both", snoop_id=_id("snoop"))
        await events.wait_for("StasisStart", for_channel(snoop.id))
        await ari.hangup(snoop.id)
    finally:
        await _hangup_quietly(ari, channel_id)
    ended = await events.wait_for("ChannelDestroyed", for_channel(channel_id))
    assert ended.raw["cause"] == 16  # normal clearing


async def test_errors_carry_status_and_message(ari: AriClient, pbx_config: Config) -> None:
    with pytest.raises(AriError) as info:
        await ari.hangup("no-such-channel")
    assert info.value.status == 404
    assert info.value.message == "Channel not found"
    assert "DELETE /channels/no-such-channel" in str(info.value)
    with pytest.raises(AriError) as info:
        await ari.originate("Bogus/endpoint")
    assert info.value.status in (400, 500)
    pbx = pbx_config.pbx
    bad = AriClient(f"http://{pbx.host}:{pbx.http_port}", pbx.ari_username, "wrong", pbx.ari_app)
    try:
        with pytest.raises(AriError) as info:
            await bad.asterisk_info()
        assert info.value.status == 401
    finally:
        await bad.close()


async def test_unreachable_pbx_is_reported(pbx_config: Config) -> None:
    pbx = pbx_config.pbx
    client = AriClient(
        f"http://{pbx.host}:{pbx.http_port + 7}",
        pbx.ari_username,
        pbx.ari_password,
        pbx.ari_app,
        reconnect_min=0.05,
        reconnect_max=0.1,
    )
    await client.start()
    try:
        with pytest.raises(TimeoutError, match="not connected"):
            await client.wait_connected(timeout=0.5)
        assert not client.connected
        assert client.last_error
        with pytest.raises(AriError) as info:
            await client.asterisk_info()
        assert info.value.status == 0
    finally:
        await client.close()


async def test_reconnects_after_asterisk_is_killed(pbx_factory: SandboxFactory) -> None:
    # A spare instance: the shared one must keep its state for other tests.
    pbx = pbx_factory()
    pbx.up()
    ari = AriClient.from_config(pbx.config)
    reconnected = asyncio.Event()

    async def on_connect() -> None:
        reconnected.set()

    ari.on_connect(on_connect)
    await ari.start()
    try:
        await ari.wait_connected(timeout=10)
        assert ari.connects == 1
        reconnected.clear()
        pbx.kill()
        await ari.wait_disconnected(timeout=10)
        assert not ari.connected
        await asyncio.to_thread(pbx.up)
        await ari.wait_connected(timeout=20)
        await asyncio.wait_for(reconnected.wait(), 5)
        assert ari.connects == 2
        # The app is registered again: a new call reaches it.
        with ari.subscribe() as events:
            channel_id = await _caller_in_stasis(ari, events)
            await _hangup_quietly(ari, channel_id)
    finally:
        await ari.close()


async def test_replaced_connection_stays_down(ari: AriClient, pbx_config: Config) -> None:
    """A second websocket for the same app takes over; the first must not fight back."""
    with ari.subscribe() as events:
        second = AriClient.from_config(pbx_config.pbx)
        await second.start()
        try:
            await second.wait_connected()
            await events.wait_for("ApplicationReplaced")
            await ari.wait_disconnected(timeout=5)
            assert ari.replaced
            assert ari.last_error is not None and "another connection" in ari.last_error
            await asyncio.sleep(pbx_config.pbx.reconnect_max * 0.2)
            assert not ari.connected and second.connected
            with second.subscribe() as second_events:
                channel_id = await _caller_in_stasis(ari, second_events)
                await _hangup_quietly(ari, channel_id)
        finally:
            await second.close()
    await ari.start()  # taking the app back is explicit
    await ari.wait_connected()
    assert not ari.replaced


async def test_create_then_dial_a_channel(ari: AriClient, events: Subscription) -> None:
    channel_id = _id("cr")
    created = await ari.create_channel(
        "Local/s@caller-script",
        channel_id=channel_id,
        variables={"_CC_SIM_STEPS": "w:30"},
    )
    assert created.id == channel_id
    try:
        await events.wait_for("StasisStart", for_channel(channel_id))
        await ari.dial(channel_id, timeout=10)
        dial = await events.wait_for(
            "Dial",
            lambda e: (
                e.raw.get("peer", {}).get("id") == channel_id
                and bool(e.raw.get("dialstatus") == "ANSWER")
            ),
        )
        assert dial.peer is not None and dial.peer.id == channel_id
    finally:
        await _hangup_quietly(ari, channel_id)


async def test_redirect_needs_a_redirectable_channel(ari: AriClient, events: Subscription) -> None:
    channel_id = await _caller_in_stasis(ari, events)
    try:
        with pytest.raises(AriError) as info:
            await ari.redirect(channel_id, "PJSIP/nobody")
        assert info.value.status in (400, 404, 422)
        assert info.value.message
    finally:
        await _hangup_quietly(ari, channel_id)
