"""The caller's side of a callback request: confirm the number or key in another.

Rule of this module: a pure state machine (h11 style). :meth:`OfferDialog.start` and every
``on_*`` method return effects for the runner (:mod:`callbacks.desk`); nothing here touches
the PBX or the database. Validation is an effect too (:class:`Validate`), answered with
:meth:`on_validated`, so the one destination policy decides and this module only talks.

    confirm ──1──▶ validate ──ok──▶ store ──▶ promise ──▶ hang up
       │ 2            │ refused: "cannot call back", enter again (3 tries, then voicemail)
       ▼              │
    enter ──digits #──┘  (read back digit by digit, then confirm)

An anonymous caller starts in ``enter``. Two silent prompts in a row end in voicemail,
so a caller who no longer answers still leaves a message instead of nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import phonenumbers

from callbacks.prompts import Media

MAX_DIGITS = 20
MAX_TRIES = 3
MAX_SILENCES = 2
DIGIT_TIMEOUT_S = 8.0
CONFIRM_TIMEOUT_S = 8.0

State = Literal["confirm", "enter", "validating", "storing", "promising", "done"]


@dataclass(frozen=True, slots=True)
class Play:
    media: tuple[str, ...]
    interruptible: bool = True  # a key stops it (barge-in)


@dataclass(frozen=True, slots=True)
class StopPlayback:
    pass


@dataclass(frozen=True, slots=True)
class StartTimer:
    seconds: float


@dataclass(frozen=True, slots=True)
class Validate:
    raw: str
    typed: bool  # keyed in by the caller (not their caller id)


@dataclass(frozen=True, slots=True)
class Store:
    number: str  # E.164, validated


@dataclass(frozen=True, slots=True)
class Finish:
    """Hang up (``voicemail=False``) or continue in the dialplan to voicemail."""

    voicemail: bool = False
    reason: str = ""


DialogEffect = Play | StopPlayback | StartTimer | Validate | Store | Finish


def spoken_digits(e164: str, region: str) -> str:
    """The digits a caller would dial: national form at home, 00… abroad."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in e164 if ch.isdigit())
    if phonenumbers.region_code_for_number(number) == region:
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return "".join(ch for ch in national if ch.isdigit())
    return "00" + e164.lstrip("+")


@dataclass(slots=True)
class OfferDialog:
    media: Media
    region: str
    caller: str | None  # the caller's own number (E.164) if known and callable
    state: State = "enter"
    candidate: str | None = None  # number being confirmed
    typed: str = ""
    tries: int = 0
    silences: int = 0
    history: list[str] = field(default_factory=list)  # states passed, for tests and logs

    def _to(self, state: State) -> None:
        self.state = state
        self.history.append(state)

    def start(self) -> list[DialogEffect]:
        if self.caller:
            return self._confirm(self.caller)
        return self._enter()

    def _confirm(self, number: str) -> list[DialogEffect]:
        self.candidate = number
        self._to("confirm")
        # One sound file per digit, not ``digits:``: Asterisk cannot stop a say_digits
        # playback, so a caller pressing 1 early would wait for the whole read-back.
        digits = spoken_digits(number, self.region)
        media = (
            self.media.phrase("cb-number-is"),
            *(f"sound:digits/{d}" for d in digits),
            self.media.phrase("cb-confirm"),
        )
        return [Play(media), StartTimer(CONFIRM_TIMEOUT_S)]

    def _enter(self, refused: bool = False) -> list[DialogEffect]:
        self.typed = ""
        self.candidate = None
        self._to("enter")
        media: tuple[str, ...] = (self.media.phrase("cb-enter"),)
        if refused:
            media = (self.media.phrase("cb-refused"), *media)
        return [Play(media), StartTimer(DIGIT_TIMEOUT_S)]

    def on_digit(self, digit: str) -> list[DialogEffect]:
        self.silences = 0
        if self.state == "confirm":
            if digit == "1" and self.candidate:
                self._to("validating")
                typed = self.candidate != self.caller
                return [StopPlayback(), Validate(self.candidate, typed=typed)]
            if digit == "2":
                return [StopPlayback(), *self._enter()]
            return []
        if self.state == "enter":
            out: list[DialogEffect] = [StopPlayback()] if not self.typed else []
            if digit == "#":
                if not self.typed:
                    return [*out, StartTimer(DIGIT_TIMEOUT_S)]
                self._to("validating")
                return [*out, Validate(self.typed, typed=True)]
            if digit == "*":
                return [*out, *self._enter()]
            if digit.isdigit() and len(self.typed) < MAX_DIGITS:
                self.typed += digit
            return [*out, StartTimer(DIGIT_TIMEOUT_S)]
        return []

    def on_validated(self, number: str | None, reason: str = "") -> list[DialogEffect]:
        """The policy's answer: the E.164 number, or None with the refusal reason."""
        if self.state != "validating":
            return []
        if number is None:
            self.tries += 1
            if self.tries >= MAX_TRIES:
                self._to("done")
                return [Finish(voicemail=True, reason=f"callback-number:{reason}")]
            return self._enter(refused=True)
        if self.candidate == number:  # confirmed (own number, or a typed one read back)
            self._to("storing")
            return [Store(number)]
        return self._confirm(number)  # typed: read back first

    def on_stored(self, minutes: int | None) -> list[DialogEffect]:
        self._to("promising")
        media: list[str] = [self.media.phrase("cb-promise")]
        if minutes is not None:
            media += [f"number:{max(1, minutes)}", "sound:minutes"]
        media.append("sound:vm-goodbye")
        return [Play(tuple(media), interruptible=False)]

    def on_store_failed(self) -> list[DialogEffect]:
        self._to("done")
        return [Finish(voicemail=True, reason="callback-store")]

    def on_playback_finished(self) -> list[DialogEffect]:
        if self.state == "promising":
            self._to("done")
            return [Finish()]
        return []

    def on_timeout(self) -> list[DialogEffect]:
        if self.state == "enter" and self.typed:  # stopped keying without '#': take it
            self._to("validating")
            return [Validate(self.typed, typed=True)]
        if self.state not in ("confirm", "enter"):
            return []
        self.silences += 1
        if self.silences >= MAX_SILENCES:
            self._to("done")
            return [Finish(voicemail=True, reason="callback-silence")]
        if self.state == "confirm" and self.candidate:
            return self._confirm(self.candidate)
        return self._enter()
