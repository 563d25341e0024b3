"""Synthetic placeholder recordings (espeak-ng, 8 kHz mono WAV) for prompts not yet recorded.

They are clearly marked: each generated file has a ``<name>.synthetic`` sidecar holding the
spoken text, so that nobody mistakes a robot voice for the client's real recording, and an
existing real recording (no sidecar) is never overwritten. Used by the IVR (tenant prompts)
and the callbacks (their phrases).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

ESPEAK_VOICES = {"de": "de", "en": "en-gb"}


def generate_placeholders(
    slug: str,
    recording_texts: dict[str, dict[str, str]],
    recordings_root: Path,
    espeak: str = "espeak-ng",
    sox: str = "sox",
) -> list[Path]:
    """Write 8 kHz mono WAV placeholders for every recording text lacking a real file.

    Returns the files written. Raises ``FileNotFoundError`` if espeak-ng or sox is missing.
    """
    for tool in (espeak, sox):
        if shutil.which(tool) is None:
            raise FileNotFoundError(f"{tool} is needed to generate placeholder prompts")
    written: list[Path] = []
    for name, texts in sorted(recording_texts.items()):
        for lang, text in sorted(texts.items()):
            target = recordings_root / slug / lang / f"{name}.wav"
            sidecar = target.with_suffix(".synthetic")
            if target.exists() and not sidecar.exists():
                continue  # a real recording: keep it
            if sidecar.exists() and sidecar.read_text(encoding="utf-8") == text:
                continue  # placeholder already up to date
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "raw.wav"
                voice = ESPEAK_VOICES.get(lang, lang)
                subprocess.run(
                    [espeak, "-v", voice, "-w", str(raw), text], check=True, capture_output=True
                )
                subprocess.run(
                    [sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target)],
                    check=True,
                    capture_output=True,
                )
            sidecar.write_text(text, encoding="utf-8")
            written.append(target)
    return written
