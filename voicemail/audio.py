"""What is in a recording: checksum, duration, whether anybody spoke (pure)."""

from __future__ import annotations

import hashlib
import math
from array import array
from dataclasses import dataclass

from voicemail.transcribe import AudioError, read_pcm

FRAME_SECONDS = 0.02
# A 20 ms frame counts as voiced above about -42 dBFS; a message needs this much of it.
VOICED_RMS = 260
MIN_VOICED_SECONDS = 0.3
MIN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class AudioInfo:
    sha256: str
    size_bytes: int
    sample_rate: int | None
    duration_seconds: float | None
    voiced_seconds: float | None
    error: str | None  # the file is unreadable (corrupt): why

    @property
    def empty(self) -> bool:
        """Silent or too short to be a message (an unreadable file is not "empty")."""
        if self.error is not None or self.duration_seconds is None:
            return False
        voiced = self.voiced_seconds or 0.0
        return self.duration_seconds < MIN_SECONDS or voiced < MIN_VOICED_SECONDS


def voiced_seconds(rate: int, pcm: bytes) -> float:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    frame = max(1, int(rate * FRAME_SECONDS))
    voiced = 0
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = samples[start : start + frame]
        if math.sqrt(sum(x * x for x in chunk) / frame) > VOICED_RMS:
            voiced += 1
    return voiced * FRAME_SECONDS


def inspect(data: bytes) -> AudioInfo:
    digest = hashlib.sha256(data).hexdigest()
    try:
        rate, pcm = read_pcm(data)
    except AudioError as exc:
        return AudioInfo(digest, len(data), None, None, None, str(exc))
    return AudioInfo(digest, len(data), rate, len(pcm) / 2 / rate, voiced_seconds(rate, pcm), None)
