"""Orphans in the Stasis application after a restart (issue #8, defect 1): handed back to
the dialplan, helper legs hung up, channels that started under this process left alone."""

from __future__ import annotations

from callcenter.pbx.ari.models import Channel
from callcenter.pbx.stasis import StasisDispatcher
from ivr.testing import ari_event


class FakeAri:
    def __init__(self, channels: dict[str, str]) -> None:
        self.names = channels
        self.continued: list[str] = []
        self.hung_up: list[str] = []
        self.dispatcher: StasisDispatcher | None = None

    async def application_channels(self) -> list[str]:
        if self.dispatcher is not None:  # a call entering Stasis while we list
            await self.dispatcher(
                ari_event("StasisStart", channel={"id": "new-1", "name": "x"}, args=["other"])
            )
        return list(self.names)

    async def channel(self, channel_id: str) -> Channel:
        return Channel.from_json({"id": channel_id, "name": self.names[channel_id]})

    async def continue_in_dialplan(self, channel_id: str) -> None:
        self.continued.append(channel_id)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hung_up.append(channel_id)


async def test_recover_hands_back_calls_and_hangs_up_helper_legs() -> None:
    ari = FakeAri(
        {
            "in-1": "Local/+4930@from-trunk-00000001;2",
            "snoop-1": "Snoop/in-2-00000002",
            "new-1": "Local/+4930@from-trunk-00000003;2",
        }
    )
    dispatcher = StasisDispatcher(ari)
    ari.dispatcher = dispatcher
    assert await dispatcher.recover(ari) == 2
    # new-1 started while we listed: the dispatcher sent it on (no handler), not recover().
    assert ari.continued == ["new-1", "in-1"]
    assert ari.hung_up == ["snoop-1"]
    assert dispatcher.recovered == 2


async def test_recover_leaves_claimed_channels_to_their_feature() -> None:
    # A callback placeholder's ;2 and a customer leg: the dialler adopts them by id; handed
    # back, the placeholder would run into Hangup() and lose its place in the queue.
    ari = FakeAri(
        {
            "cbq-7-1-b": "Local/s@cc-callback-slot-00000001;2",
            "cb-8-a1-c": "Local/+4930555@cc-transfer-00000002;1",
            "in-1": "Local/+4930@from-trunk-00000003;2",
        }
    )
    dispatcher = StasisDispatcher(ari)
    dispatcher.claim(lambda channel_id: channel_id.startswith("cb"))
    assert await dispatcher.recover(ari) == 1
    assert ari.continued == ["in-1"]
    assert ari.hung_up == []
