"""Callback acceptance: number validation (no premium rate) and the Stasis desk's steps
(store first, then confirm; refuse → back to the dialplan's voicemail step)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from callbacks.handoff import CallbackDesk
from callbacks.store import NewCallback, callback_number
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

    async def add(self, request: NewCallback) -> int:
        if self.fail:
            raise OperationalError("INSERT", {}, Exception("database down"))
        self.added.append(request)
        return 41 + len(self.added)


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


async def run(desk: CallbackDesk) -> None:
    await desk.on_stasis_start(start("sim-1-in"))
    for _ in range(20):
        await asyncio.sleep(0)


async def test_accepted_callback_is_stored_then_confirmed_then_hung_up() -> None:
    ari, store = FakeAri(VARS), FakeStore()
    desk = CallbackDesk(ari, store, policy=lambda _slug: DE_AND_GB, clock=lambda: NOW)
    await run(desk)
    assert store.added == [NewCallback("acme", "+442079460018", "q-acme-en", "en", "sim-1", NOW)]
    assert ari.requests == [
        ("set", "CC_CALLBACK_ID", "42"),
        ("play", ("sound:auth-thankyou", "sound:vm-goodbye"), "en", "sim-1-in-cbok"),
    ]
    await desk.on_event(
        ari_event(
            "PlaybackFinished",
            playback={
                "id": "sim-1-in-cbok",
                "media_uri": "",
                "state": "done",
                "language": "en",
                "target_uri": "channel:sim-1-in",
            },
        )
    )
    assert ari.requests[-1] == ("hangup", "sim-1-in")


@pytest.mark.parametrize(
    ("variables", "fail", "reason"),
    [
        ({**VARS, "CC_CALLBACK_NUMBER": "+49 900 1234567"}, False, "callback-number"),
        ({**VARS, "CC_CALLBACK_NUMBER": ""}, False, "callback-number"),
        (VARS, True, "callback-store"),
    ],
)
async def test_refused_callback_goes_back_to_the_dialplan(
    variables: dict[str, str], fail: bool, reason: str
) -> None:
    ari, store = FakeAri(variables), FakeStore(fail)
    desk = CallbackDesk(ari, store, policy=lambda _slug: DE_AND_GB, clock=lambda: NOW)
    await run(desk)
    assert ari.requests == [("set", "CC_REASON", reason), ("continue",)]
    assert desk.refused == 1 and store.added == []
