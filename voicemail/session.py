"""One caller leaving a message: a pure state machine that returns effects.

Rule of this module: the machine never talks to the PBX; the runner
(:mod:`voicemail.stasis`) carries out what it returns, in order. The rules that matter:

* A ``record`` request sent while a playback runs is queued by Asterisk until the playback
  ends, so the caller's first words would be lost: a key pressed during the greeting stops
  the playback *before* recording starts (:class:`StopPlayback` precedes
  :class:`StartRecording`).
* :class:`BeginMessage` comes before the first :class:`StartRecording`: the message row
  exists while the caller speaks, so a crash of the app mid-message loses nothing.
* :class:`FinishMessage` is returned exactly once per message, whatever ends it (``#``,
  silence, maximum length, the caller accepting on review, or hanging up mid-message).
  A caller who hangs up during the greeting left no message: nothing is returned.

States: ``greeting`` → ``recording`` → (``review`` →) ``goodbye`` → ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callcenter.pbx.ari.playback import Play, StopPlayback

State = Literal["greeting", "recording", "review", "goodbye", "done"]

SAVED_MEDIA = ("sound:vm-msgsaved", "sound:vm-goodbye")
REVIEW_MEDIA = ("sound:vm-review",)  # "press 1 to accept, 2 to listen, 3 to re-record"
REVIEW_REPEATS = 2


@dataclass(frozen=True, slots=True)
class BeginMessage:
    recording: str


@dataclass(frozen=True, slots=True)
class StartRecording:
    recording: str
    format: str
    max_seconds: int
    silence_seconds: int
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class FinishMessage:
    recording: str
    reason: str  # complete | hangup | failed: <cause>


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


Effect = Play | StopPlayback | BeginMessage | StartRecording | FinishMessage | Hangup


@dataclass(frozen=True, slots=True)
class Recording:
    """How this mailbox records."""

    format: str = "wav"  # "wav" (8 kHz) or "wav16" on wideband channels
    max_seconds: int = 180
    silence_seconds: int = 6
    review: bool = False


class VoicemailSession:
    def __init__(
        self,
        session_id: str,
        recording: str,
        language: str,
        greeting: tuple[str, ...],
        settings: Recording,
    ) -> None:
        self.id = session_id
        self.recording = recording
        self.language = language
        self.greeting = greeting
        self.settings = settings
        self.state: State = "greeting"
        self.begun = False
        self.finished = False
        self._reviews = 0

    # playback ids: unique per session and step, so stale events are recognised
    @property
    def _greeting_id(self) -> str:
        return f"{self.id}-vmg"

    @property
    def _review_id(self) -> str:
        return f"{self.id}-vmr{self._reviews}"

    @property
    def _bye_id(self) -> str:
        return f"{self.id}-vmb"

    def start(self) -> list[Effect]:
        if not self.greeting:
            return self._record()
        return [Play(self._greeting_id, self.greeting, self.language)]

    def on_dtmf(self, digit: str) -> list[Effect]:
        if self.state == "greeting":
            return [StopPlayback(self._greeting_id), *self._record()]
        if self.state != "review":
            return []  # "#" while recording is Asterisk's (terminateOn)
        stop = StopPlayback(self._review_id)
        if digit == "1":
            return [stop, *self._accept()]
        if digit == "2":
            self._reviews += 1
            media = (f"recording:{self.recording}", *REVIEW_MEDIA)
            return [stop, Play(self._review_id, media, self.language)]
        if digit == "3":
            return [stop, *self._record(overwrite=True)]
        return []

    def on_playback_finished(self, playback_id: str) -> list[Effect]:
        if self.state == "greeting" and playback_id == self._greeting_id:
            return self._record()
        if self.state == "review" and playback_id == self._review_id:
            if self._reviews >= REVIEW_REPEATS:  # no answer: keep the message
                return self._accept()
            self._reviews += 1
            return [Play(self._review_id, REVIEW_MEDIA, self.language)]
        if self.state == "goodbye" and playback_id == self._bye_id:
            self.state = "done"
            return [Hangup()]
        return []

    def on_recording_finished(self, name: str) -> list[Effect]:
        if self.state != "recording" or name != self.recording:
            return []
        if self.settings.review:
            self.state = "review"
            return [Play(self._review_id, REVIEW_MEDIA, self.language)]
        return self._accept()

    def on_recording_failed(self, name: str, cause: str) -> list[Effect]:
        if self.state != "recording" or name != self.recording:
            return []
        self.state = "done"
        return [*self._finish(f"failed: {cause or 'unknown'}"), Hangup()]

    def on_hangup(self) -> list[Effect]:
        previous, self.state = self.state, "done"
        if previous in ("recording", "review"):
            return self._finish("hangup")
        return []

    # --- steps ----------------------------------------------------------------------------

    def _record(self, *, overwrite: bool = False) -> list[Effect]:
        self.state = "recording"
        effects: list[Effect] = []
        if not self.begun:
            self.begun = True
            effects.append(BeginMessage(self.recording))
        s = self.settings
        effects.append(
            StartRecording(self.recording, s.format, s.max_seconds, s.silence_seconds, overwrite)
        )
        return effects

    def _accept(self) -> list[Effect]:
        self.state = "goodbye"
        return [*self._finish("complete"), Play(self._bye_id, SAVED_MEDIA, self.language)]

    def _finish(self, reason: str) -> list[Effect]:
        if self.finished or not self.begun:
            return []
        self.finished = True
        return [FinishMessage(self.recording, reason)]
