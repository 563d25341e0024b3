"""Callback acceptance: number validation (no premium rate) and the IVR menu's callback
path through the desk (purpose ``callback``): the number is read back and confirmed, the
request stored before the promise; refused or unstorable → the dialplan's voicemail step."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from callbacks.desk import OfferDesk
from callbacks.prompts import Media
from callbacks.store import Added, NewCallback, callback_number
from callcenter.pbx.ari.events import AriEvent
from callcenter.phone.policy import DestinationPolicy, DestinationRefused, Refusal
from ivr.testing import ari_event

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


DE_AND_GB = DestinationPolicy.for_country("DE", also=frozenset({"GB"}))


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("030 1234567", "+49301234567"),  # national, default region DE
        ("+49 170 1234567", "+491701234567"),
        ("+44 20 7946 0018", "+442079460018"),  # the tenant allows GB
    ],
)
def test_callable_numbers(raw: str, e164: str) -> None:
    assert callback_number(raw, DE_AND_GB) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, Refusal.ANONYMOUS),
        ("", Refusal.ANONYMOUS),
        ("anonymous", Refusal.ANONYMOUS),
        ("+49 900 1234567", Refusal.PREMIUM_RATE),
        ("+49 180 1234567", Refusal.SHARED_COST),
        ("+881 6 12345678", Refusal.INTERNATIONAL_NETWORK),
        ("+53 7 8661234", Refusal.COUNTRY),
        ("+49 30 12", Refusal.SHORT_CODE),
        ("hello", Refusal.MALFORMED),
        ("+49301234567\r\nAction: Originate", Refusal.MALFORMED),
    ],
)
def test_refused_numbers(raw: str | None, reason: Refusal) -> None:
    with pytest.raises(DestinationRefused) as info:
        callback_number(raw, DE_AND_GB)
    assert info.value.reason is reason


class FakeStore:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.added: list[NewCallback] = []

    async def add_or_merge(self, request: NewCallback) -> Added:
        if self.fail:
            raise OperationalError("INSERT", {}, Exception("database down"))
        self.added.append(request)
        return Added(41 + len(self.added), merged=False)


class FakeAri:
    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables
        self.requests: list[tuple[Any, ...]] = []

    async def get_var(self, channel_id: str, name: str) -> str | None:
        return self.variables.get(name)

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        self.requests.append(("set", name, value))

    async def play(
        self,
        channel_id: str,
        media: Sequence[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> Any:
        self.requests.append(("play", tuple(media), lang, playback_id))

    async def stop_playback(self, playback_id: str) -> None:
        self.requests.append(("stop", playback_id))

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        self.requests.append(("continue",))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.requests.append(("hangup", channel_id))


def start(channel_id: str) -> AriEvent:
    channel = {
        "id": channel_id,
        "name": "Local/x",
        "state": "Up",
        "caller": {},
        "connected": {},
        "dialplan": {},
        "language": "en",
        "creationtime": "",
    }
    return ari_event("StasisStart", args=["callback", "q-acme-en"], channel=channel)


VARS = {
    "CC_TENANT": "acme",
    "CC_CALLBACK_NUMBER": "+442079460018",
    "CC_LANGUAGE": "en",
    "CHANNEL(linkedid)": "sim-1",
}
MEDIA = Media("/snd/callbacks")


def make_desk(ari: FakeAri, store: FakeStore) -> OfferDesk:
    return OfferDesk(ari, store, MEDIA, policy=lambda _slug: DE_AND_GB, clock=lambda: NOW)


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


def dtmf(digit: str) -> AriEvent:
    return ari_event(
        "ChannelDtmfReceived", digit=digit, duration_ms=100, channel={"id": "sim-1-in"}
    )


def finished(playback_id: str) -> AriEvent:
    return ari_event(
        "PlaybackFinished",
        playback={
            "id": playback_id,
            "media_uri": "",
            "state": "done",
            "language": "en",
            "target_uri": "channel:sim-1-in",
        },
    )


async def test_ivr_callback_reads_the_number_back_then_stores_then_promises() -> None:
    ari, store = FakeAri(VARS), FakeStore()
    desk = make_desk(ari, store)
    await desk.on_handoff(start("sim-1-in"))
    await settle()
    # The number the IVR knows is read back in the caller's language before anything is
    # stored: +44 20 7946 0018 is abroad from DE, so it is said as 0044…
    read_back = ari.requests[0]
    assert read_back[0] == "play" and read_back[2] == "en"
    assert read_back[1][0] == "sound:/snd/callbacks/cb-number-is"
    assert read_back[1][1:-1] == tuple(f"sound:digits/{d}" for d in "00442079460018")
    assert read_back[1][-1] == "sound:/snd/callbacks/cb-confirm"
    assert store.added == []
    await desk.on_event(dtmf("1"))
    await settle()
    assert store.added == [
        NewCallback(
            "acme",
            "+442079460018",
            "q-acme-en",
            "en",
            "sim-1",
            NOW,
            arrival_at=NOW,
            wait_seconds=0.0,
            source="ivr",
            promised_at=NOW,
        )
    ]
    assert ("set", "CC_CALLBACK_ID", "42") in ari.requests
    promise = ari.requests[-1]
    assert promise[0] == "play" and promise[1][0] == "sound:/snd/callbacks/cb-promise"
    await desk.on_event(finished(promise[3]))
    await settle()
    assert ari.requests[-1] == ("hangup", "sim-1-in")


async def test_ivr_callback_caller_keys_in_another_number() -> None:
    ari, store = FakeAri(VARS), FakeStore()
    desk = make_desk(ari, store)
    await desk.on_handoff(start("sim-1-in"))
    await settle()
    for key in "2030987654#":
        await desk.on_event(dtmf(key))
        await settle()
    assert store.added == []  # read back first
    await desk.on_event(dtmf("1"))
    await settle()
    assert [r.number for r in store.added] == ["+4930987654"]


@pytest.mark.parametrize(
    ("variables", "prompt"),
    [
        ({**VARS, "CC_CALLBACK_NUMBER": "+49 900 1234567"}, "cb-enter"),  # premium: ask
        ({**VARS, "CC_CALLBACK_NUMBER": ""}, "cb-enter"),  # anonymous: ask
    ],
)
async def test_ivr_callback_without_a_callable_number_asks_for_one(
    variables: dict[str, str], prompt: str
) -> None:
    ari, store = FakeAri(variables), FakeStore()
    await make_desk(ari, store).on_handoff(start("sim-1-in"))
    await settle()
    assert ari.requests[0][:2] == ("play", (f"sound:/snd/callbacks/{prompt}",))
    assert store.added == []


async def test_ivr_callback_not_stored_goes_back_to_the_dialplan() -> None:
    ari, store = FakeAri(VARS), FakeStore(fail=True)
    desk = make_desk(ari, store)
    await desk.on_handoff(start("sim-1-in"))
    await settle()
    await desk.on_event(dtmf("1"))
    await settle()
    assert ari.requests[-2:] == [("set", "CC_REASON", "callback-store"), ("continue",)]
    assert store.added == []
