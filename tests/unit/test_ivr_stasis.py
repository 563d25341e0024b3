"""The ARI runner with a recording fake ARI: event → session → requests, per call."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from ivr.loader import LoadedTenant
from ivr.registry import TenantRegistry
from ivr.routing import QueueLoad
from ivr.stasis import IvrRunner
from ivr.testing import ari_event, make_tenant, simple_flow

OPEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CLOSED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
STAFFED = {"q-acme-de": QueueLoad(2, 1, 0, 0.0), "q-acme-en": QueueLoad(2, 1, 0, 0.0)}


class FakeAri:
    """Records requests; ``gone`` channels answer 404 like a hung-up channel."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, ...]] = []
        self.gone: set[str] = set()

    def _check(self, channel_id: str) -> None:
        if channel_id in self.gone:
            raise AriError(404, "POST", f"/channels/{channel_id}", "Channel not found")

    async def answer(self, channel_id: str) -> None:
        self._check(channel_id)
        self.requests.append(("answer", channel_id))

    async def play(
        self,
        channel_id: str,
        media: Sequence[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> None:
        self._check(channel_id)
        self.requests.append(("play", channel_id, tuple(media), lang, playback_id))

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        self._check(channel_id)
        self.requests.append(("var", channel_id, name, value))

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        self._check(channel_id)
        self.requests.append(("continue", channel_id, context, extension, priority))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [r for r in self.requests if r[0] == kind]


def stasis_start(channel_id: str, did: str, caller: str) -> AriEvent:
    channel = {
        "id": channel_id,
        "name": f"Local/{did}@from-trunk-00000001;2",
        "state": "Up",
        "caller": {"name": "", "number": caller},
        "connected": {},
        "dialplan": {"context": "from-trunk", "exten": did, "priority": 3},
        "language": "en",
        "creationtime": "",
    }
    return ari_event("StasisStart", args=["inbound"], channel=channel)


def finished(channel_id: str, playback_id: str) -> AriEvent:
    return ari_event(
        "PlaybackFinished",
        playback={
            "id": playback_id,
            "media_uri": "",
            "state": "done",
            "language": "de",
            "target_uri": f"channel:{channel_id}",
        },
    )


def runner(
    ari: FakeAri, now: datetime = OPEN, menu_timeout: float = 5.0, on_queued: Any = None
) -> IvrRunner:
    flow = simple_flow()
    main = dataclasses.replace(flow.nodes["main"], timeout=menu_timeout)
    tenant = make_tenant(flow=dataclasses.replace(flow, nodes={**flow.nodes, "main": main}))
    registry = TenantRegistry()
    registry.replace([LoadedTenant(tenant, ())])
    return IvrRunner(
        ari,
        registry,
        lambda: STAFFED,
        recordings_media_root="/rec",
        clock=lambda: now,
        on_queued=on_queued,
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_menu_choice_reaches_the_queue_with_variables() -> None:
    ari = FakeAri()
    run = runner(ari)
    # A national number as the trunk delivers it; the caller from the UK.
    await run.on_stasis_start(stasis_start("ch1", "0891111110", "+442079460018"))
    await settle()
    assert ari.requests[:2] == [("answer", "ch1"), ("var", "ch1", "CHANNEL(language)", "en")]
    (play,) = ari.of("play")
    assert play == ("play", "ch1", ("sound:/rec/acme/en/main",), "en", "ch1-p1")
    await run.on_event(finished("ch1", "ch1-p1"))
    await run.on_event(ari_event("ChannelDtmfReceived", digit="1", channel={"id": "ch1"}))
    await settle()
    variables = {r[2]: r[3] for r in ari.of("var")}
    assert variables["QUEUE_PRIO"] == "0" and variables["CC_IVR_PATH"] == "main>reception"
    assert variables["CC_TENANT"] == "acme" and variables["CC_CALLER"] == "+442079460018"
    assert ari.of("continue") == [("continue", "ch1", "cc-queue", "q-acme-en", 1)]
    assert run.active == 0 and run.outcomes == {"queue": 1}


async def test_timeout_timer_replays_the_menu() -> None:
    ari = FakeAri()
    run = runner(ari, menu_timeout=0.05)
    await run.on_stasis_start(stasis_start("ch2", "+49891111110", "+4930123456"))
    await settle()
    await run.on_event(finished("ch2", "ch2-p1"))
    await asyncio.sleep(0.2)
    await settle()
    plays = ari.of("play")
    assert len(plays) == 2 and plays[1][2] == ("sound:/rec/acme/de/main",)
    await run.on_event(ari_event("StasisEnd", channel={"id": "ch2"}))
    await settle()
    assert run.active == 0 and run.outcomes == {"hangup": 1}


async def test_hangup_during_playback_ends_the_session() -> None:
    ari = FakeAri()
    run = runner(ari)
    await run.on_stasis_start(stasis_start("ch3", "+49891111110", "+4930123456"))
    await settle()
    ari.gone.add("ch3")
    await run.on_event(ari_event("ChannelDtmfReceived", digit="2", channel={"id": "ch3"}))
    await settle()
    assert run.active == 0 and run.outcomes == {"hangup": 1}


async def test_closed_call_hears_next_opening_then_voicemail() -> None:
    ari = FakeAri()
    run = runner(ari, CLOSED)
    await run.on_stasis_start(stasis_start("ch4", "+49891111110", "+4930123456"))
    await settle()
    (play,) = ari.of("play")
    assert play[2] == (
        "sound:/rec/acme/de/closed",
        "sound:digits/day-1",
        "sound:digits/at",
        "number:8",
        "sound:digits/oclock",
    )
    await run.on_event(finished("ch4", "ch4-p1"))
    await settle()
    await run.on_event(finished("ch4", "ch4-p2"))
    await settle()
    assert ari.of("continue") == [("continue", "ch4", "cc-voicemail", "acme", 1)]


async def test_direct_queue_did_and_unknown_did() -> None:
    ari = FakeAri()
    run = runner(ari)
    await run.on_stasis_start(stasis_start("ch5", "+49891111111", "+491701234567"))
    await run.on_stasis_start(stasis_start("ch6", "+49899999999", "+4930123456"))
    await settle()
    assert ari.of("continue") == [
        ("continue", "ch6", None, None, None),
        ("continue", "ch5", "cc-queue", "q-acme-de", 1),
    ]
    assert ("var", "ch5", "QUEUE_PRIO", "10") in ari.requests
    assert run.active == 0


async def test_queue_hand_off_reports_to_the_on_queued_hook() -> None:
    ari = FakeAri()
    queued: list[tuple[str, ...]] = []
    run = runner(ari, on_queued=lambda *args: queued.append(args))
    await run.on_stasis_start(stasis_start("ch9", "0891111110", "+442079460018"))
    await settle()
    await run.on_event(ari_event("ChannelDtmfReceived", digit="1", channel={"id": "ch9"}))
    await settle()
    assert queued == [("ch9", "acme", "q-acme-en", "en")]
