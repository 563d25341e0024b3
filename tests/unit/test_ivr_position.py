"""Position announcements: the estimate, the media, and the announcer's schedule (no
overlap, stop once the caller no longer waits) against a recording fake ARI."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.state.queues import QueueState, WaitingCaller
from ivr.position import PositionAnnouncer, Waiting, announcement, estimated_wait_s, waiting_in
from ivr.testing import ari_event


@pytest.mark.parametrize(
    ("waiting", "expected"),
    [
        (Waiting("q", 1, 0.0, 0.0, 0), None),  # no history: position only
        (Waiting("q", 1, 25.0, 120.0, 1), 25.0),  # next: the ASA
        (Waiting("q", 4, 25.0, 120.0, 2), 180.0),  # 3 ahead × 120 s ÷ 2 agents
        (Waiting("q", 4, 25.0, 120.0, 0), 360.0),  # nobody free: as if one
    ],
)
def test_estimated_wait(waiting: Waiting, expected: float | None) -> None:
    assert estimated_wait_s(waiting) == expected


def test_announcement_media() -> None:
    assert announcement(Waiting("q", 3, 0.0, 100.0, 1)) == [
        "sound:queue-thereare",
        "number:2",
        "sound:queue-callswaiting",
        "sound:queue-holdtime",
        "number:4",
        "sound:minutes",
        "sound:queue-thankyou",
    ]


def test_waiting_in_finds_the_caller_by_channel_id() -> None:
    queue = QueueState("q-a", pbx={"holdtime": 12, "talktime": 90})
    queue.waiting["ch-1"] = WaitingCaller("ch-1", "L", "Local/x", 2, 100.0, "+49", "")
    assert waiting_in({"q-a": queue}, [], 110.0, "ch-1") == Waiting("q-a", 2, 12.0, 90.0, 0)
    assert waiting_in({"q-a": queue}, [], 110.0, "ch-2") is None


def snoop_start(snoop_id: str) -> AriEvent:
    channel = {
        "id": snoop_id,
        "name": f"Snoop/{snoop_id}",
        "state": "Up",
        "caller": {},
        "connected": {},
        "dialplan": {},
        "language": "en",
        "creationtime": "",
    }
    return ari_event("StasisStart", args=["announce"], channel=channel)


class FakeAri:
    """Plays instantly: a snoop enters Stasis, its playback finishes at once."""

    def __init__(self, announcer_ref: list[PositionAnnouncer]) -> None:
        self.ref = announcer_ref
        self.requests: list[tuple[Any, ...]] = []
        self.active = 0
        self.max_active = 0
        self.gone: set[str] = set()

    async def snoop(self, channel_id: str, **kw: Any) -> object:
        if channel_id in self.gone:
            raise AriError(404, "POST", f"/channels/{channel_id}/snoop", "Channel not found")
        self.requests.append(("snoop", channel_id, kw["whisper"], kw["app_args"]))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        asyncio.get_running_loop().create_task(
            self.ref[0].on_stasis_start(snoop_start(kw["snoop_id"]))
        )
        return object()

    async def play(
        self,
        channel_id: str,
        media: list[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> object:
        self.requests.append(("play", channel_id, tuple(media), lang))
        playback = {
            "id": playback_id,
            "media_uri": "",
            "state": "done",
            "language": lang,
            "target_uri": f"channel:{channel_id}",
        }
        asyncio.get_running_loop().call_later(
            0.01,
            lambda: asyncio.ensure_future(
                self.ref[0].on_event(ari_event("PlaybackFinished", playback=playback))
            ),
        )
        return object()

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))
        self.active -= 1


async def test_periodic_announcements_stop_when_the_caller_is_answered() -> None:
    positions = {"ch-1": 3}
    ref: list[PositionAnnouncer] = []
    ari = FakeAri(ref)

    def lookup(channel_id: str) -> Waiting | None:
        pos = positions.get(channel_id)
        return Waiting("q", pos, 0.0, 0.0, 1) if pos else None

    announcer = PositionAnnouncer(ari, lookup)
    ref.append(announcer)
    announcer.track("ch-1", "de", 0.02, 0.05)
    await asyncio.sleep(0.1)
    positions["ch-1"] = 1  # moved up
    await asyncio.sleep(0.12)
    del positions["ch-1"]  # answered
    await asyncio.sleep(0.15)
    heard = announcer.announced["ch-1"]
    assert heard[0][:2] == ["sound:queue-thereare", "number:2"]
    assert heard[-1][0] == "sound:queue-youarenext"
    assert ari.max_active == 1  # never two announcements at once
    snoops = [r for r in ari.requests if r[0] == "snoop"]
    assert all(r[1:] == ("ch-1", "out", "announce") for r in snoops)
    assert all(r[3] == "de" for r in ari.requests if r[0] == "play")
    count = len(snoops)
    await asyncio.sleep(0.15)
    assert len([r for r in ari.requests if r[0] == "snoop"]) == count  # stopped
    assert announcer.tracking == 0


async def test_off_when_first_is_zero_and_stop_when_the_channel_is_gone() -> None:
    ref: list[PositionAnnouncer] = []
    ari = FakeAri(ref)
    announcer = PositionAnnouncer(ari, lambda _c: Waiting("q", 1, 0.0, 0.0, 1))
    ref.append(announcer)
    announcer.track("ch-1", "de", 0, 60)
    assert announcer.tracking == 0
    ari.gone.add("ch-2")
    announcer.track("ch-2", "en", 0.01, 0.01)
    await asyncio.sleep(0.1)
    assert announcer.tracking == 0 and "ch-2" not in announcer.announced


async def test_unknown_snoop_in_stasis_is_hung_up() -> None:
    ref: list[PositionAnnouncer] = []
    ari = FakeAri(ref)
    announcer = PositionAnnouncer(ari, lambda _c: None)
    await announcer.on_stasis_start(snoop_start("stale-ann1"))
    assert ari.requests == [("hangup", "stale-ann1")]
