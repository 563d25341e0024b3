"""The automatic callback offer: who is due (pure), and once per caller."""

from __future__ import annotations

from typing import Any

from callbacks.offering import Candidate, OfferAnnouncer, due
from callbacks.prompts import Media
from ivr.testing import ari_event


def test_due_only_past_the_threshold_with_a_known_estimate_and_once() -> None:
    candidates = [
        Candidate("a", "de", 200.0, 120.0),  # past it
        Candidate("b", "de", 120.0, 120.0),  # at it: not yet
        Candidate("c", "en", None, 120.0),  # no estimate (no history yet): not offered
        Candidate("d", "en", 500.0, 0.0),  # tenant without an automatic offer
        Candidate("e", "en", 500.0, 60.0),  # offered before
    ]
    assert [c.channel_id for c in due(candidates, {"e"})] == ["a"]


class FakeAri:
    def __init__(self) -> None:
        self.requests: list[tuple[Any, ...]] = []

    async def snoop(self, channel_id: str, **kw: Any) -> object:
        self.requests.append(("snoop", channel_id, kw["snoop_id"], kw["whisper"]))
        return object()

    async def play(self, channel_id: str, media: Any, **kw: Any) -> object:
        self.requests.append(("play", channel_id, tuple(media), kw["lang"]))
        return object()

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))


async def test_offer_whispered_in_the_callers_language_once_while_waiting() -> None:
    ari = FakeAri()
    waiting = [Candidate("q1", "en", 300.0, 120.0)]
    offers = OfferAnnouncer(ari, Media("/snd/callbacks"), lambda: waiting)
    assert [c.channel_id for c in offers.check()] == ["q1"]
    assert offers.check() == []  # still waiting: not again
    await _settle()
    assert ari.requests == [("snoop", "q1", "q1-cbo", "out")]
    await offers.on_stasis_start(ari_event("StasisStart", channel={"id": "q1-cbo"}))
    assert ari.requests[-1] == ("play", "q1-cbo", ("sound:/snd/callbacks/cb-offer",), "en")
    await offers.on_event(
        ari_event(
            "PlaybackFinished",
            playback={
                "id": "q1-cbo-pb",
                "media_uri": "",
                "state": "done",
                "language": "en",
                "target_uri": "channel:q1-cbo",
            },
        )
    )
    assert ari.requests[-1:] == [("hangup", "q1-cbo")]
    waiting.clear()
    offers.check()  # the caller left: forgotten; a new call on the same id is a new caller
    waiting.append(Candidate("q1", "en", 300.0, 120.0))
    assert [c.channel_id for c in offers.check()] == ["q1"]
    await offers.close()


async def _settle() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)
