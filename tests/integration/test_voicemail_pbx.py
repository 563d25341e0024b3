"""Voicemail end to end on the real Asterisk: a scripted caller goes through the IVR to
voicemail and speaks the Korean clip; the recording is fetched over ARI, stored with its
checksum, transcribed by real Vosk, e-mailed to a local SMTP server, listed in the inbox
and shown on the contact's timeline. Then the failure cases: hang-up mid-message, an empty
message, a corrupt file on the PBX, a missing model."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.controller import Controller
from babel.dates import format_date
from sqlalchemy import select

from callcenter import auth
from callcenter.audit import AuditEntry
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Dtmf, Play, Scenario, Wait, import_sound, place_call
from callcenter.pbx.stasis import StasisDispatcher
from crm import repository as repo
from crm import timeline
from crm.contact import contact_from_mapping
from crm.mailer import SmtpMailer
from crm.models import WebhookDelivery
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry
from ivr.stasis import PURPOSE as INBOUND
from ivr.stasis import IvrRunner
from jobs.worker import Worker
from tests.integration.voicemail_support import (
    CLIP,
    CLIP_TEXT,
    Inbox,
    audit_into_log,
    korean_model,
    smtp_port,
)
from voicemail import audit as vm_audit
from voicemail import http as vm_http
from voicemail import store
from voicemail.accuracy import cer
from voicemail.deps import VoicemailDeps
from voicemail.models import Mailbox, Voicemail, VoicemailAudio
from voicemail.plugin import connect_crm
from voicemail.speech import SpeechModel
from voicemail.stasis import PURPOSE as VOICEMAIL
from voicemail.stasis import VoicemailDesk
from voicemail.tasks import tasks
from voicemail.timeline import entries
from voicemail.transcribe import Transcriber, read_pcm

OPEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
DID = "+49891239900"
CALLER = "+4917155530077"
PASSWORD = "vm-Test-Passw0rd"
# The caller's Local channel carries 8 kHz signed linear, as a narrowband phone delivers it
# (an ARI originate's default, slin192, resamples 8 -> 192 -> 8 kHz and halved the level in
# bench/voicemail). The stored recording must hold the played samples unchanged. The Korean
# model is poor at 8 kHz, and its dither makes the text depend on where in the file the
# speech starts: over dither seeds the same 8 kHz clip gives CER 0.59-0.76. So the text is
# bounded relative to the same file fed directly with that spread as margin; the +0.05
# target is the benchmark's, as a mean over seeds (docs/benchmarks.md).
CER_MARGIN = 0.2


def tenant_doc(slug: str) -> str:
    return f"""
slug = "{slug}"
name = "Voicemail Test GmbH"
greeting = "Voicemail Test, guten Tag"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"

[hours]
mon = ["08:00-17:00"]

[[dids]]
number = "{DID}"
entry = "main"

[routing]
voicemail_box = "{slug}"

[[routing.queues]]
name = "q-default"
language = "de"

[ivr]
entry = "main"
receptionist = "reception"

[flows.main]
type = "menu"
prompts = ["vm-reachoper"]
options = {{ "2" = "message" }}
timeout = 3
retries = 1

[flows.message]
type = "voicemail"
mailbox = "{slug}"

[flows.reception]
type = "queue"
"""


@dataclass
class World:
    db: Database
    tenant_id: int
    slug: str
    contact_id: int
    clip_media: str
    clip_8k: bytes  # the file the caller plays (8 kHz), for the direct comparison
    inbox: Inbox
    deps: VoicemailDeps
    token: str


@pytest.fixture(scope="module")
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port())
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def transcriber() -> Iterator[Transcriber]:
    t = Transcriber(1)  # one process, one Model for the whole module
    try:
        yield t
    finally:
        t.close()


def _app(world_db: Database, deps: VoicemailDeps) -> web.Application:
    app = web.Application()
    auth.setup(app, world_db)
    vm_http.setup(app, deps)
    return app


@pytest.fixture(scope="module")
async def world(
    pg_url: str, pbx: Sandbox, smtp: Inbox, transcriber: Transcriber
) -> AsyncIterator[World]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    slug = f"vm{uuid.uuid4().hex[:6]}"
    async with db.session() as s:
        tenant = Tenant(slug=slug, name="Voicemail Test GmbH", default_language="de")
        s.add(tenant)
        await s.flush()
        contact = await repo.create_contact(
            s, tenant.id, contact_from_mapping({"display_name": "Min-jun Kim",
                                                "numbers": [{"number": CALLER}]}),
        )  # fmt: skip
        s.add(
            Mailbox(
                tenant_id=tenant.id,
                mailbox=slug,
                recipients=["office@voicemail-test.example"],
                greetings={"de": "sound:vm-intro"},
                max_seconds=60,
                silence_seconds=0,
                review=False,
            )
        )
        tenant_id, contact_id = tenant.id, contact.id
    await UserRepository(db).add(f"vm-rec-{slug}", PASSWORD, "receptionist")
    timeline.register_source(entries)
    audit_into_log(db)
    mailer = SmtpMailer("127.0.0.1", smtp_port(), sender="voicemail@callcenter.example")
    # No German model can be installed here (guide §4): the Korean model stands in for the
    # tenant's language, and the caller speaks Korean.
    deps = VoicemailDeps(
        db=db,
        transcriber=transcriber,
        models={"de": SpeechModel("de", korean_model(), "package")},
        mailer=mailer,
        sender=mailer.sender,
    )
    connect_crm(deps)  # contacts by number, webhooks: as the app wires it
    app = _app(db, deps)
    async with TestClient(TestServer(app)) as c:
        resp = await c.post(
            "/api/auth/login", json={"username": f"vm-rec-{slug}", "password": PASSWORD}
        )
        token = (await resp.json())["token"]
    media = import_sound(pbx, CLIP, "vm_test_ko")
    clip_8k = (pbx.sounds_dir / "vm_test_ko.wav").read_bytes()
    try:
        yield World(db, tenant_id, slug, contact_id, media, clip_8k, smtp, deps, token)
    finally:
        vm_audit.redirect(None)
        await db.close()


@pytest.fixture
async def desk(world: World, ari: AriClient, pbx_config: Config, tmp_path: Path) -> VoicemailDesk:
    sources = PromptSources.for_pbx_root(pbx_config.pbx.root, tmp_path / "rec")
    registry = TenantRegistry()
    registry.replace([load_tenant_text(tenant_doc(world.slug), sources)])
    runner = IvrRunner(ari, registry, dict, clock=lambda: OPEN)
    vm_desk = VoicemailDesk(ari, world.db, max_seconds=60)
    stasis = StasisDispatcher(ari)
    stasis.register(INBOUND, runner.on_stasis_start)
    stasis.register(VOICEMAIL, vm_desk.on_stasis_start)
    ari.add_handler(stasis)
    ari.add_handler(runner.on_event)
    ari.add_handler(vm_desk.on_event)
    world.deps.recordings = ari
    return vm_desk


async def _call(ari: AriClient, pbx_config: Config, *steps: Wait | Dtmf | Play) -> None:
    scenario = Scenario(DID, CALLER, "Kim", tuple(steps), formats=("slin",))
    await place_call(ari, pbx_config.pbx, scenario, f"vm-{uuid.uuid4().hex[:10]}")


async def _message(db: Database, tenant_id: int, after: int, timeout: float = 40.0) -> Voicemail:
    """The first message newer than ``after`` once its pipeline has settled."""
    async with asyncio.timeout(timeout):
        while True:
            async with db.session() as s:
                vm = await s.scalar(
                    select(Voicemail)
                    .where(Voicemail.tenant_id == tenant_id, Voicemail.id > after)
                    .order_by(Voicemail.id)
                )
            settled = vm is not None and (
                vm.status in ("empty", "lost")
                or (vm.transcript_status in ("done", "failed") and vm.emailed_at is not None)
            )
            if settled:
                assert vm is not None
                return vm
            await asyncio.sleep(0.2)


async def _last_id(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(Voicemail.id).order_by(Voicemail.id.desc())) or 0)


async def _run_worker(world: World, until: Any) -> Any:
    worker = Worker(world.db, tasks(world.deps), poll_interval=0.1, lease=10)
    stop = asyncio.Event()
    run = asyncio.create_task(worker.run(stop))
    try:
        return await until
    finally:
        stop.set()
        await run


def _speaking(world: World, *, finish: str = "#") -> tuple[Wait | Dtmf | Play, ...]:
    steps: list[Wait | Dtmf | Play] = [
        Wait(1.0), Dtmf("2"),    # menu: leave a message
        Wait(2.0), Dtmf("5"),    # skip the greeting: playback stopped, recording starts
        Wait(1.0), Play(world.clip_media), Wait(0.5),
    ]  # fmt: skip
    if finish:
        steps += [Dtmf(finish), Wait(5.0)]
    return tuple(steps)


async def test_caller_leaves_a_message_that_is_stored_transcribed_mailed_listed(
    world: World, desk: VoicemailDesk, ari: AriClient, pbx_config: Config
) -> None:
    before, mails = await _last_id(world.db), len(world.inbox.messages)
    await _call(ari, pbx_config, *_speaking(world))
    vm = await _run_worker(world, _message(world.db, world.tenant_id, before))

    assert (vm.status, vm.transcript_status) == ("stored", "done"), vm.transcript_error
    assert vm.mailbox == world.slug and vm.caller_e164 == CALLER and vm.language == "de"
    assert vm.contact_id == world.contact_id  # found by the caller's number
    async with world.db.session() as s:
        stored = await s.get(VoicemailAudio, vm.id)
    assert stored is not None and hashlib.sha256(stored.data).hexdigest() == vm.sha256
    assert vm.sample_rate == 8000 and vm.duration_seconds is not None
    assert 4.0 <= vm.duration_seconds <= 8.0  # the clip is 4.64 s
    played, recorded = read_pcm(world.clip_8k)[1], read_pcm(stored.data)[1]
    # The call path is transparent: every sample as played (Asterisk's recorder left off
    # the clip's last 22 samples, 3 ms: compare all but the last 20 ms).
    at = recorded.find(played[: len(played) - 320])
    assert at >= 0 and at % 2 == 0, "the recording does not hold the played samples unchanged"
    assert vm.transcript_text is not None and "[" not in vm.transcript_text
    error = cer(CLIP_TEXT, vm.transcript_text)
    assert world.deps.transcriber is not None
    direct = await world.deps.transcriber.transcribe(str(korean_model()), "ko", world.clip_8k)
    assert error <= cer(CLIP_TEXT, direct.text) + CER_MARGIN, (vm.transcript_text, direct.text)
    assert error < 0.95  # speech was recognised, not noise
    assert vm.transcript_words and vm.transcript_rtf is not None and vm.transcript_rtf > 0

    assert len(world.inbox.messages) == mails + 1
    mail = world.inbox.messages[-1]
    assert mail["To"] == "office@voicemail-test.example"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    recorded = (vm.recorded_at or vm.created_at).astimezone(ZoneInfo("Europe/Berlin"))
    assert format_date(recorded.date(), "full", locale="de_DE") in text  # babel, German
    assert "Min-jun Kim" in text and "Sekunden" in text and CALLER in text
    assert vm.transcript_text in text
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "audio/wav"
    assert attachment.get_content() == stored.data

    async with TestClient(TestServer(_app(world.db, world.deps))) as c:
        h = {"Authorization": f"Bearer {world.token}"}
        base = f"/api/voicemail/tenants/{world.tenant_id}/messages"
        listed = await (await c.get(base, headers=h)).json()
        assert vm.id in [m["id"] for m in listed["messages"]]
        resp = await c.get(f"{base}/{vm.id}/audio", headers={**h, "Range": "bytes=0-43"})
        assert resp.status == 206 and (await resp.read()) == stored.data[:44]
    async with world.db.session() as s:
        listens = list(
            await s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "voicemail.listen",
                    AuditEntry.target == f"voicemail:{vm.id}",
                )
            )
        )
    assert [e.detail for e in listens] == [{"range": "bytes=0-43"}]
    async with world.db.session() as s:
        shown = await timeline.timeline(s, world.tenant_id, world.contact_id)
    assert ("voicemail", vm.id) in [(e.kind, e.id) for e in shown]


async def _emails_for(world: World, voicemail_id: int) -> list[Any]:
    await asyncio.sleep(0.5)  # a second e-mail would have arrived by now
    return [
        m for m in world.inbox.messages
        if any(a.get_filename() == f"voicemail-{voicemail_id}.wav" for a in m.iter_attachments())
        or f"voicemail-{voicemail_id}" in str(m.get_body(("plain",)))
    ]  # fmt: skip


async def test_caller_hanging_up_mid_message_keeps_what_was_said(
    world: World, desk: VoicemailDesk, ari: AriClient, pbx_config: Config
) -> None:
    before = await _last_id(world.db)
    await _call(ari, pbx_config, *_speaking(world, finish=""))  # hangs up after speaking
    vm = await _run_worker(world, _message(world.db, world.tenant_id, before))
    assert (vm.status, vm.transcript_status) == ("stored", "done"), vm.transcript_error
    assert vm.duration_seconds is not None and vm.duration_seconds >= 4.0
    assert vm.transcript_text
    assert len(await _emails_for(world, vm.id)) == 1


async def test_empty_message_is_recorded_as_such_and_not_delivered(
    world: World, desk: VoicemailDesk, ari: AriClient, pbx_config: Config
) -> None:
    before, mails = await _last_id(world.db), len(world.inbox.messages)
    silent = (Wait(1.0), Dtmf("2"), Wait(2.0), Dtmf("5"), Wait(3.0), Dtmf("#"), Wait(4.0))
    await _call(ari, pbx_config, *silent)
    vm = await _run_worker(world, _message(world.db, world.tenant_id, before))
    assert (vm.status, vm.transcript_status) == ("empty", "none")
    async with world.db.session() as s:
        assert await s.get(VoicemailAudio, vm.id) is None
        # This message's voicemail.received (a body text match also caught other events
        # whose data had an "id" equal to this message's id: a flaky failure in CI).
        hooks = await s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event == "voicemail.received")
        )
        assert [h for h in hooks if json.loads(h.body)["data"].get("id") == vm.id] == []
    await asyncio.sleep(0.5)
    assert len(world.inbox.messages) == mails
    async with TestClient(TestServer(_app(world.db, world.deps))) as c:
        h = {"Authorization": f"Bearer {world.token}"}
        listed = await (
            await c.get(f"/api/voicemail/tenants/{world.tenant_id}/messages?status=all", headers=h)
        ).json()
    assert vm.id not in [m["id"] for m in listed["messages"]]


async def _planted(world: World, pbx: Sandbox, data: bytes) -> int:
    """A message whose recording on the PBX is ``data`` (as if the caller had just hung up):
    the row and fetch job as the desk writes them, the file where Asterisk keeps it."""
    name = f"vm-{world.slug}-{uuid.uuid4().hex}"
    (pbx.recordings_dir / f"{name}.wav").write_bytes(data)
    msg = store.NewMessage(
        world.slug, world.slug, name, "de", CALLER, "Kim", None, None, "planted", "wav", 60
    )
    voicemail_id = await store.begin(world.db, world.tenant_id, msg)
    await store.finish(world.db, name, "hangup")
    return voicemail_id


async def test_corrupt_audio_keeps_the_file_says_why_and_is_delivered_once(
    world: World, desk: VoicemailDesk, pbx: Sandbox
) -> None:
    garbage = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 40
    voicemail_id = await _planted(world, pbx, garbage)
    vm = await _run_worker(world, _message(world.db, world.tenant_id, voicemail_id - 1))
    assert (vm.status, vm.transcript_status) == ("stored", "failed")
    assert vm.transcript_error is not None and vm.transcript_error.startswith("corrupt audio")
    async with world.db.session() as s:
        stored = await s.get(VoicemailAudio, vm.id)
    assert stored is not None and stored.data == garbage
    assert vm.sha256 == hashlib.sha256(garbage).hexdigest()
    [mail] = await _emails_for(world, vm.id)
    body = mail.get_body(("plain",))
    assert body is not None and "Keine Abschrift: corrupt audio" in body.get_content()
    assert not (pbx.recordings_dir / f"{vm.recording_name}.wav").exists()  # fetched, removed


async def test_missing_model_keeps_the_message_untranscribed_until_retried(
    world: World, desk: VoicemailDesk, pbx: Sandbox
) -> None:
    voicemail_id = await _planted(world, pbx, world.clip_8k)
    without = dataclasses.replace(world.deps, models={})
    worker = Worker(world.db, tasks(without), poll_interval=0.1)
    await worker.drain(timeout=60)
    async with world.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
    assert vm is not None and (vm.status, vm.transcript_status) == ("stored", "failed")
    assert vm.transcript_error is not None
    assert "no speech model for language 'de'" in vm.transcript_error
    assert vm.emailed_at is not None and len(await _emails_for(world, voicemail_id)) == 1

    async with TestClient(TestServer(_app(world.db, world.deps))) as c:
        h = {"Authorization": f"Bearer {world.token}"}
        url = f"/api/voicemail/tenants/{world.tenant_id}/messages/{voicemail_id}/retry"
        resp = await c.post(url, headers=h)
        assert resp.status == 202
        assert (await c.post(url, headers=h)).status == 409  # pending now, not failed
    await Worker(world.db, tasks(world.deps), poll_interval=0.1).drain(timeout=60)
    async with world.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
    assert vm is not None and vm.transcript_status == "done" and vm.transcript_text
    assert len(await _emails_for(world, voicemail_id)) == 1  # not delivered twice
