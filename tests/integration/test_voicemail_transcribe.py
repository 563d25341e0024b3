"""Real Vosk (the Korean model), no PBX: a transcript depends on the audio only, not on
what the transcription process recognised before."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.integration.voicemail_support import CLIP, korean_model
from voicemail.transcribe import Transcriber


@pytest.fixture(scope="module")
def transcriber() -> Iterator[Transcriber]:
    t = Transcriber(1)
    try:
        yield t
    finally:
        t.close()


def _telephone(rate: int) -> bytes:
    return subprocess.run(
        ["sox", "-R", str(CLIP), "-r", str(rate), "-c", "1", "-b", "16", "-t", "wav", "-"],
        capture_output=True,
        check=True,
    ).stdout


async def test_the_same_8khz_audio_gives_the_same_transcript_every_time(
    transcriber: Transcriber,
) -> None:
    # Kaldi dithers with rand(): unseeded, the 8 kHz clip came out as three different texts
    # in three consecutive jobs of one process.
    audio = _telephone(8000)
    model = str(korean_model())
    texts = [(await transcriber.transcribe(model, "ko", audio)).text for _ in range(3)]
    assert texts[0] and texts == [texts[0]] * 3
    other = await transcriber.transcribe(model, "ko", _telephone(16000))
    again = await transcriber.transcribe(model, "ko", audio)  # after other work: the same
    assert other.text and again.text == texts[0]
