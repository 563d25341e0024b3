"""The voicemail state machine: stop playback before recording, one message row and one
finish per message whatever ends it, review (accept / listen / re-record)."""

from __future__ import annotations

from callcenter.pbx.ari.playback import Play, StopPlayback
from voicemail.session import (
    REVIEW_MEDIA,
    SAVED_MEDIA,
    BeginMessage,
    FinishMessage,
    Hangup,
    Recording,
    StartRecording,
    VoicemailSession,
)

GREETING = ("sound:vm-intro",)


def session(*, greeting: tuple[str, ...] = GREETING, review: bool = False) -> VoicemailSession:
    return VoicemailSession("ch1", "vm-x", "de", greeting, Recording("wav", 60, 5, review))


def test_key_during_greeting_stops_the_playback_before_recording_starts() -> None:
    s = session()
    assert s.start() == [Play("ch1-vmg", GREETING, "de")]
    effects = s.on_dtmf("5")
    assert effects == [
        StopPlayback("ch1-vmg"),
        BeginMessage("vm-x"),
        StartRecording("vm-x", "wav", 60, 5),
    ]
    # the stopped greeting's PlaybackFinished arrives afterwards: no second recording
    assert s.on_playback_finished("ch1-vmg") == []


def test_greeting_end_starts_the_recording_and_hash_ends_with_goodbye_then_hangup() -> None:
    s = session()
    s.start()
    assert s.on_playback_finished("ch1-vmg") == [
        BeginMessage("vm-x"),
        StartRecording("vm-x", "wav", 60, 5),
    ]
    assert s.on_recording_finished("vm-x") == [
        FinishMessage("vm-x", "complete"),
        Play("ch1-vmb", SAVED_MEDIA, "de"),
    ]
    assert s.on_hangup() == []  # finished already: never twice
    assert s.state == "done"


def test_no_greeting_records_at_once() -> None:
    s = session(greeting=())
    assert s.start() == [BeginMessage("vm-x"), StartRecording("vm-x", "wav", 60, 5)]


def test_hangup_mid_message_finishes_it_and_during_greeting_leaves_nothing() -> None:
    s = session()
    s.start()
    s.on_dtmf("1")
    assert s.on_hangup() == [FinishMessage("vm-x", "hangup")]
    early = session()
    early.start()
    assert early.on_hangup() == []


def test_recording_failure_finishes_with_the_cause_and_hangs_up() -> None:
    s = session(greeting=())
    s.start()
    assert s.on_recording_failed("vm-x", "no space") == [
        FinishMessage("vm-x", "failed: no space"),
        Hangup(),
    ]


def test_events_of_another_recording_are_ignored() -> None:
    s = session(greeting=())
    s.start()
    assert s.on_recording_finished("vm-other") == []
    assert s.state == "recording"


def test_review_listen_rerecord_accept() -> None:
    s = session(greeting=(), review=True)
    s.start()
    assert s.on_recording_finished("vm-x") == [Play("ch1-vmr0", REVIEW_MEDIA, "de")]
    listen = s.on_dtmf("2")
    assert listen == [
        StopPlayback("ch1-vmr0"),
        Play("ch1-vmr1", ("recording:vm-x", *REVIEW_MEDIA), "de"),
    ]
    again = s.on_dtmf("3")
    assert again == [StopPlayback("ch1-vmr1"), StartRecording("vm-x", "wav", 60, 5, True)]
    s.on_recording_finished("vm-x")
    accepted = s.on_dtmf("1")
    assert FinishMessage("vm-x", "complete") in accepted
    assert accepted[-1] == Play("ch1-vmb", SAVED_MEDIA, "de")
    assert s.on_playback_finished("ch1-vmb") == [Hangup()]


def test_review_without_answer_keeps_the_message() -> None:
    s = session(greeting=(), review=True)
    s.start()
    s.on_recording_finished("vm-x")
    assert s.on_playback_finished("ch1-vmr0") == [Play("ch1-vmr1", REVIEW_MEDIA, "de")]
    assert s.on_playback_finished("ch1-vmr1") == [Play("ch1-vmr2", REVIEW_MEDIA, "de")]
    assert s.on_playback_finished("ch1-vmr2")[0] == FinishMessage("vm-x", "complete")


def test_hangup_during_review_keeps_the_message() -> None:
    s = session(greeting=(), review=True)
    s.start()
    s.on_recording_finished("vm-x")
    assert s.on_hangup() == [FinishMessage("vm-x", "hangup")]
