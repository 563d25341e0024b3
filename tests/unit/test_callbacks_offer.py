"""The caller's dialog for a callback request (pure state machine), by scripted sessions."""

from __future__ import annotations

from callbacks.offer import (
    Finish,
    OfferDialog,
    Play,
    StartTimer,
    StopPlayback,
    Store,
    Validate,
    spoken_digits,
)
from callbacks.prompts import Media

MEDIA = Media("/snd/callbacks")
OWN = "+493012345678"


def dialog(caller: str | None = OWN) -> OfferDialog:
    return OfferDialog(MEDIA, "DE", caller)


def test_confirm_own_number_then_promise_then_hang_up() -> None:
    d = dialog()
    first = d.start()
    assert isinstance(first[0], Play)
    assert first[0].media[0] == "sound:/snd/callbacks/cb-number-is"
    assert first[0].media[1:-1] == tuple(f"sound:digits/{x}" for x in "03012345678")
    assert first[1] == StartTimer(8.0)
    assert d.on_digit("1") == [StopPlayback(), Validate(OWN, typed=False)]
    assert d.on_validated(OWN) == [Store(OWN)]
    promise = d.on_stored(12)
    assert isinstance(promise[0], Play) and not promise[0].interruptible
    assert promise[0].media[1:] == ("number:12", "sound:minutes", "sound:vm-goodbye")
    assert d.on_playback_finished() == [Finish()]
    assert d.history == ["confirm", "validating", "storing", "promising", "done"]


def test_anonymous_caller_keys_in_a_number_refused_then_a_good_one() -> None:
    d = dialog(caller=None)
    assert d.start()[0] == Play(("sound:/snd/callbacks/cb-enter",))
    for key in "0900123456":
        d.on_digit(key)
    assert d.on_digit("#") == [Validate("0900123456", typed=True)]
    refused = d.on_validated(None, "premium_rate")
    assert refused[0] == Play(("sound:/snd/callbacks/cb-refused", "sound:/snd/callbacks/cb-enter"))
    for key in "030987654#":
        out = d.on_digit(key)
    assert out == [Validate("030987654", typed=True)]
    readback = d.on_validated("+4930987654")
    assert isinstance(readback[0], Play)
    assert readback[0].media[1:-1] == tuple(f"sound:digits/{x}" for x in "030987654")
    assert d.on_digit("1") == [StopPlayback(), Validate("+4930987654", typed=True)]
    assert d.on_validated("+4930987654") == [Store("+4930987654")]


def test_three_refusals_or_two_silences_end_in_voicemail() -> None:
    d = dialog(caller=None)
    d.start()
    for _ in range(2):
        d.on_digit("1")
        d.on_digit("#")
        d.on_validated(None, "malformed")
    d.on_digit("1")
    d.on_digit("#")
    assert d.on_validated(None, "emergency") == [
        Finish(voicemail=True, reason="callback-number:emergency")
    ]
    quiet = dialog()
    quiet.start()
    assert isinstance(quiet.on_timeout()[0], Play)  # asked once more
    assert quiet.on_timeout() == [Finish(voicemail=True, reason="callback-silence")]


def test_other_number_star_restarts_and_timeout_takes_typed_digits() -> None:
    d = dialog()
    d.start()
    assert isinstance(d.on_digit("2")[1], Play)  # stop, then ask for the number
    d.on_digit("0")
    d.on_digit("*")
    assert d.typed == ""
    for key in "0301111":
        d.on_digit(key)
    assert d.on_timeout() == [Validate("0301111", typed=True)]
    assert d.on_store_failed() == [Finish(voicemail=True, reason="callback-store")]


def test_spoken_digits() -> None:
    assert spoken_digits("+493012345678", "DE") == "03012345678"
    assert spoken_digits("+442079460018", "DE") == "00442079460018"
    assert spoken_digits("+4915112345678", "DE") == "015112345678"
