"""The IVR against the real Asterisk: scripted callers, played media and language read
from ARI playback events, hand-off into app_queue with priority and variables."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.pbx.ari import AriClient, AriError, Subscription
from callcenter.pbx.simulate import Dtmf, Scenario, Wait, inbound_leg_id, place_call
from callcenter.pbx.stasis import StasisDispatcher
from callcenter.placeholders import generate_placeholders
from ivr.loader import load_tenant_text
from ivr.plugin import publish_recordings
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.routing import QueueLoad
from ivr.stasis import PURPOSE, IvrRunner

OPEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
CLOSED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 19:00 in Berlin
DID = "+49891230000"

TENANT = """
slug = "pbxtest"
name = "PBX Test GmbH"
greeting = "PBX Test, guten Tag"
languages = ["de", "en"]
default_language = "de"
timezone = "Europe/Berlin"

[hours]
mon = ["08:00-17:00"]

[[dids]]
number = "+49 89 1230000"
entry = "main"

[routing]
language_from_number = true
language_by_region = { DE = "de", GB = "en" }
vip_numbers = ["+44 20 7946 0999"]
vip_priority = 7
voicemail_box = "pbxtest"

[[routing.queues]]
name = "q-default"
language = "de"

[[routing.queues]]
name = "q-default-en"
language = "en"

[ivr]
entry = "main"
receptionist = "reception"

[flows.main]
type = "menu"
prompts = ["vm-reachoper"]
options = { "1" = "sales" }
timeout = 1.5
retries = 1

[flows.sales]
type = "queue"
queue = "q-default"

[flows.reception]
type = "queue"
"""


@pytest.fixture
async def events(ari: AriClient) -> AsyncIterator[Subscription]:
    with ari.subscribe() as sub:
        yield sub


def make_runner(
    ari: AriClient,
    pbx_config: Config,
    tmp_path: Path,
    now: datetime,
    *,
    document: str = TENANT,
    media_root: str = "",
) -> IvrRunner:
    sources = PromptSources.for_pbx_root(pbx_config.pbx.root, tmp_path / "rec")
    registry = TenantRegistry()
    registry.replace([load_tenant_text(document, sources)])
    loads = {"q-default": QueueLoad(1, 1, 0, 0.0), "q-default-en": QueueLoad(1, 1, 0, 0.0)}
    runner = IvrRunner(
        ari, registry, lambda: loads, clock=lambda: now, recordings_media_root=media_root
    )
    stasis = StasisDispatcher(ari)  # as the app wires it (ivr.plugin)
    stasis.register(PURPOSE, runner.on_stasis_start)
    ari.add_handler(stasis)
    ari.add_handler(runner.on_event)
    return runner


async def call(
    ari: AriClient, pbx_config: Config, caller: str, *steps: Wait | Dtmf, hold: float = 8.0
) -> str:
    scenario = Scenario(DID, caller, "Sim", (*steps, Wait(hold)))
    channel_id = await place_call(ari, pbx_config.pbx, scenario, f"ivr-{uuid.uuid4().hex[:10]}")
    return inbound_leg_id(channel_id)


async def played_until_stasis_end(events: Subscription, leg: str) -> list[tuple[str, str]]:
    """(media, language) of every playback step on ``leg`` until it leaves Stasis.

    Asterisk 22 sends PlaybackStarted for each media item of a multi-item playback;
    PlaybackContinuing repeats the item just finished, so it is not counted."""
    played: list[tuple[str, str]] = []
    target = f"channel:{leg}"
    while True:
        event = await events.wait_for(("PlaybackStarted", "StasisEnd"), timeout=20)
        if event.type == "StasisEnd":
            if event.channel_id == leg:
                return played
            continue
        playback = event.playback
        if playback is not None and playback.target_uri == target:
            played.append((playback.media_uri, playback.language))


async def queued_variables(ari: AriClient, leg: str) -> dict[str, str | None]:
    for _ in range(60):  # the dialplan runs asynchronously after StasisEnd
        channel = await ari.channel(leg)
        if channel.dialplan.context == "cc-queue":
            break
        await asyncio.sleep(0.05)
    names = ("QUEUE_PRIO", "CC_TENANT", "CC_LANGUAGE", "CC_IVR_PATH", "CC_VIP", "CHANNEL(language)")
    values = {name: await ari.get_var(leg, name) for name in names}
    values["context"], values["exten"] = channel.dialplan.context, channel.dialplan.exten
    return values


async def hangup(ari: AriClient, leg: str) -> None:
    try:
        await ari.hangup(leg)
    except AriError as exc:
        assert exc.status == 404


async def test_german_menu_choice_goes_to_the_queue(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path
) -> None:
    make_runner(ari, pbx_config, tmp_path, OPEN)
    leg = await call(ari, pbx_config, "+4930123456", Wait(1.0), Dtmf("1"))
    try:
        played = await played_until_stasis_end(events, leg)
        assert played == [("sound:vm-reachoper", "de")]
        assert await queued_variables(ari, leg) == {
            "QUEUE_PRIO": "0",
            "CC_TENANT": "pbxtest",
            "CC_LANGUAGE": "de",
            "CC_IVR_PATH": "main>sales",
            "CC_VIP": "0",
            "CHANNEL(language)": "de",
            "context": "cc-queue",
            "exten": "q-default",
        }
    finally:
        await hangup(ari, leg)


async def test_uk_vip_caller_gets_english_and_priority(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path
) -> None:
    make_runner(ari, pbx_config, tmp_path, OPEN)
    leg = await call(ari, pbx_config, "+442079460999", Wait(1.0), Dtmf("1"))
    try:
        played = await played_until_stasis_end(events, leg)
        assert played == [("sound:vm-reachoper", "en")]
        variables = await queued_variables(ari, leg)
        assert (variables["QUEUE_PRIO"], variables["CC_VIP"], variables["CHANNEL(language)"]) == (
            "7",
            "1",
            "en",
        )
    finally:
        await hangup(ari, leg)


@pytest.mark.parametrize("caller", ["+447700900123", "+447911123456"])
async def test_uk_caller_of_an_unassigned_range_still_gets_english(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path, caller: str
) -> None:
    """Issue #8, defect 9: the country calling code decides, not the number's validity
    (+44 7700 900xxx is a drama range, +44 7911 one the library does not know)."""
    make_runner(ari, pbx_config, tmp_path, OPEN)
    leg = await call(ari, pbx_config, caller, Wait(1.0), Dtmf("1"))
    try:
        played = await played_until_stasis_end(events, leg)
        assert played == [("sound:vm-reachoper", "en")]
        variables = await queued_variables(ari, leg)
        assert (variables["CC_LANGUAGE"], variables["CHANNEL(language)"]) == ("en", "en")
    finally:
        await hangup(ari, leg)


async def test_invalid_key_then_timeout_reaches_the_receptionist(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path
) -> None:
    make_runner(ari, pbx_config, tmp_path, OPEN)
    # invalid prompt + menu again (about 7 s), then the 1.5 s timeout, then the hand-off.
    leg = await call(ari, pbx_config, "+4930123456", Wait(1.0), Dtmf("7"), hold=20.0)
    try:
        played = await played_until_stasis_end(events, leg)
        # menu, (7) invalid + menu again, timeout after the last try → receptionist queue.
        assert played == [
            ("sound:vm-reachoper", "de"),
            ("sound:pbx-invalid", "de"),
            ("sound:vm-reachoper", "de"),
        ]
        variables = await queued_variables(ari, leg)
        assert (variables["exten"], variables["CC_IVR_PATH"]) == ("q-default", "main>reception")
    finally:
        await hangup(ari, leg)


async def test_after_hours_announces_the_next_opening_in_german(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path
) -> None:
    runner = make_runner(ari, pbx_config, tmp_path, CLOSED)
    leg = await call(ari, pbx_config, "+4930123456")
    try:
        played = await played_until_stasis_end(events, leg)
        # Built-in closed node: nobody available, "Montag um 8 Uhr", then voicemail intro is
        # left to the voicemail feature (the hand-off to its context ends Stasis).
        assert played == [
            ("sound:vm-nobodyavail", "de"),
            ("sound:digits/day-1", "de"),
            ("sound:digits/at", "de"),
            ("number:8", "de"),
            ("sound:digits/oclock", "de"),
        ]
        assert runner.outcomes == {"voicemail": 1}
    finally:
        await hangup(ari, leg)


async def test_tenant_recording_is_played_from_inside_the_pbx_root(
    ari: AriClient, events: Subscription, pbx_config: Config, tmp_path: Path
) -> None:
    """Recordings live in data_dir (outside the chroot); published into the instance's
    sound dir they play in the caller's language — checked by a *successful* playback."""
    generate_placeholders(
        "pbxtest", {"hello": {"de": "Guten Tag", "en": "Good morning"}}, tmp_path / "rec"
    )
    media_root = publish_recordings(tmp_path / "rec", pbx_config.pbx, pbx_config.app.data_dir)
    document = TENANT.replace('prompts = ["vm-reachoper"]', 'prompts = ["rec:hello"]')
    make_runner(ari, pbx_config, tmp_path, OPEN, document=document, media_root=media_root)
    leg = await call(ari, pbx_config, "+442079460018", hold=6.0)
    try:
        started = await events.wait_for("PlaybackStarted", timeout=15)
        assert started.playback is not None
        assert started.playback.media_uri == f"sound:{media_root}/pbxtest/en/hello"
        done = await events.wait_for("PlaybackFinished", timeout=15)
        assert done.playback is not None and done.playback.state == "done"
    finally:
        await hangup(ari, leg)
