"""The voicemail pipeline as jobs: fetch → (transcribe) → e-mail; retention.

``voicemail.fetch`` downloads the stored recording over ARI, checksums it and stores it in
the database with its duration; an empty (silent or sub-second) message is kept as
``empty`` and goes no further. ``voicemail.transcribe`` runs Vosk in a transcription process
and stores text, words, model and real-time factor in the same transaction that completes
the job. ``voicemail.email`` sends the message to the mailbox's recipients once:
``emailed_at`` guards it, and every send carries the same Message-ID (:func:`message_id`),
recorded with the "sending" mark before the SMTP transaction, so that a re-send after a
crash between the server's acceptance and that mark is recognisably the same message. A
transcription that fails for good (corrupt audio, no model for the language, attempts used
up) keeps the audio, records the reason and still e-mails the message with "not
transcribed: <reason>"; ``POST …/retry`` queues it again.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Tenant, utcnow
from callcenter.pbx.ari.errors import AriError
from callcenter.topics import TOPIC_VOICEMAIL
from jobs.policy import Backoff
from jobs.worker import JobContext, Periodic, Permanent, Retry, Task
from voicemail import audio, audit, mail
from voicemail.deps import VoicemailDeps
from voicemail.models import Mailbox, Voicemail, VoicemailAudio
from voicemail.store import FETCH_TASK
from voicemail.transcribe import AudioError, WorkerLost

log = logging.getLogger(__name__)

TRANSCRIBE_TASK = "voicemail.transcribe"
EMAIL_TASK = "voicemail.email"
RETENTION_TASK = "voicemail.retention"
TRANSCRIPTION_QUEUE = "transcription"
TOPIC = TOPIC_VOICEMAIL


def payload(vm: Voicemail) -> dict[str, Any]:
    """The JSON view of a message (API, bus events, webhooks); no audio, no words."""
    return {
        "id": vm.id,
        "tenant_id": vm.tenant_id,
        "mailbox": vm.mailbox,
        "status": vm.status,
        "caller_e164": vm.caller_e164,
        "caller_name": vm.caller_name,
        "contact_id": vm.contact_id,
        "language": vm.language,
        "call_linkedid": vm.call_linkedid,
        "duration_seconds": vm.duration_seconds,
        "sample_rate": vm.sample_rate,
        "sha256": vm.sha256,
        "created_at": vm.created_at.isoformat(),
        "recorded_at": vm.recorded_at.isoformat() if vm.recorded_at else None,
        "transcript_status": vm.transcript_status,
        "transcript": vm.transcript_text,
        "transcript_error": vm.transcript_error,
        "transcript_model": vm.transcript_model,
        "transcript_rtf": vm.transcript_rtf,
        "emailed_at": vm.emailed_at.isoformat() if vm.emailed_at else None,
        "handled_at": vm.handled_at.isoformat() if vm.handled_at else None,
        "handled_by": vm.handled_by,
        "assigned_to": vm.assigned_to,
        "callback_id": vm.callback_id,
    }


async def _publish(deps: VoicemailDeps, event: str, data: dict[str, Any]) -> None:
    if deps.bus is not None:
        try:
            await deps.bus.publish(TOPIC, {"type": event, "voicemail": data})
        except Exception:  # fan-out only: the row and the webhook outbox are the truth
            log.warning("voicemail: bus publish of %s failed", event, exc_info=True)


async def _message(session: AsyncSession, voicemail_id: int) -> Voicemail:
    vm = await session.get(Voicemail, voicemail_id)
    if vm is None:  # erased or expired meanwhile: nothing left to do
        raise Permanent(f"voicemail {voicemail_id} no longer exists")
    return vm


# --- fetch ------------------------------------------------------------------------------


async def fetch(deps: VoicemailDeps, ctx: JobContext, data: dict[str, Any]) -> None:
    voicemail_id = int(data["voicemail_id"])
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        name, status = vm.recording_name, vm.status
    if status != "recording":
        return  # fetched already (a retry after a crash between commit and job completion)
    if deps.recordings is None:
        raise Retry("no PBX connection in this worker", delay=10)
    try:
        data_bytes = await deps.recordings.download_recording(name)
    except AriError as exc:
        if exc.status == 404 and not ctx.last_attempt:
            raise Retry(f"recording {name} not stored yet", delay=2.0) from None
        if exc.status == 404:
            await _mark_lost(deps, ctx, voicemail_id)
            return
        raise
    info = audio.inspect(data_bytes)
    contact: tuple[int | None, str | None] = (None, None)
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        if vm.contact_id is None and vm.caller_e164 and deps.find_contact is not None:
            contact = await deps.find_contact(vm.tenant_id, vm.caller_e164)
            vm.contact_id = contact[0]
        vm.sha256, vm.size_bytes = info.sha256, info.size_bytes
        vm.sample_rate, vm.duration_seconds = info.sample_rate, info.duration_seconds
        vm.stored_at = utcnow()
        vm.recorded_at = vm.recorded_at or vm.stored_at
        if info.empty:
            vm.status, vm.transcript_status = "empty", "none"
            vm.transcript_error = "empty message (silence or under a second)"
        else:
            vm.status = "stored"
            s.add(VoicemailAudio(voicemail_id=vm.id, data=data_bytes))
            if info.error is not None:
                vm.transcript_status, vm.transcript_error = "failed", f"corrupt audio: {info.error}"
                await _enqueue_email(s, vm.id)
            else:
                await transcribe_task(deps).enqueue(
                    s, {"voicemail_id": vm.id}, key=f"voicemail:{vm.id}:transcribe"
                )
            if deps.webhooks is not None:
                await deps.webhooks(s, vm.tenant_id, "voicemail.received", payload(vm))
        await ctx.finish(s)
        view = payload(vm)
    if view["status"] != "empty":
        await _publish(deps, "voicemail.received", view)
    try:  # the PBX copy is no longer needed; a failure here only leaves a file behind
        await deps.recordings.delete_recording(name)
    except AriError as exc:
        log.info("voicemail: could not delete stored recording %s: %s", name, exc)


async def _mark_lost(deps: VoicemailDeps, ctx: JobContext, voicemail_id: int) -> None:
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        vm.status, vm.transcript_status = "lost", "none"
        vm.transcript_error = "the PBX has no recording for this message"
        await ctx.finish(s)
    log.error("voicemail: %s lost: the PBX kept no recording", voicemail_id)


async def _enqueue_email(session: AsyncSession, voicemail_id: int) -> None:
    await email_task_spec().enqueue(
        session, {"voicemail_id": voicemail_id}, key=f"voicemail:{voicemail_id}:email"
    )


# --- transcribe ---------------------------------------------------------------------------


async def transcribe(deps: VoicemailDeps, ctx: JobContext, data: dict[str, Any]) -> None:
    voicemail_id = int(data["voicemail_id"])
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        language = vm.language
        stored = await s.get(VoicemailAudio, voicemail_id)
        if stored is None:
            raise Permanent("no audio stored for this message")
        wav = stored.data
    model = deps.models.get(language) or deps.models.get(language.split("-")[0])
    if model is None:
        raise Permanent(
            f"no speech model for language {language!r} (set voicemail.models or run "
            f"`callcenter models install {language}`)"
        )
    if deps.transcriber is None:
        raise Retry("no transcriber in this worker", delay=10)
    try:
        result = await deps.transcriber.transcribe(str(model.path), language, wav)
    except AudioError as exc:
        raise Permanent(f"corrupt audio: {exc}") from None
    except WorkerLost as exc:
        raise Retry(str(exc)) from None
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        vm.transcript_status, vm.transcript_error = "done", None
        vm.transcript_text = result.text
        vm.transcript_words = result.words_json()
        vm.transcript_model = f"{language}:{result.model}"
        vm.transcript_rtf = round(result.rtf, 4)
        vm.transcribed_at = utcnow()
        if deps.webhooks is not None:
            await deps.webhooks(s, vm.tenant_id, "voicemail.transcribed", payload(vm))
        await _enqueue_email(s, vm.id)
        await ctx.finish(s)
        view = payload(vm)
    await _publish(deps, "voicemail.transcribed", view)


async def transcription_failed(
    deps: VoicemailDeps, _ctx: JobContext, data: dict[str, Any], reason: str
) -> None:
    """Give-up hook: the audio stays, the reason is shown, the message is still e-mailed."""
    voicemail_id = int(data["voicemail_id"])
    async with deps.db.session() as s:
        vm = await s.get(Voicemail, voicemail_id)
        if vm is None:
            return
        vm.transcript_status, vm.transcript_error = "failed", reason
        await _enqueue_email(s, vm.id)
        view = payload(vm)
    await _publish(deps, "voicemail.transcribed", view)


# --- e-mail -------------------------------------------------------------------------------


async def email(deps: VoicemailDeps, ctx: JobContext, data: dict[str, Any]) -> None:
    voicemail_id = int(data["voicemail_id"])
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        if vm.emailed_at is not None:
            return  # sent already: never twice
        tenant = await s.get(Tenant, vm.tenant_id)
        boxes = {
            b.mailbox: b
            for b in await s.scalars(
                select(Mailbox).where(
                    Mailbox.tenant_id == vm.tenant_id, Mailbox.mailbox.in_([vm.mailbox, "*"])
                )
            )
        }
        box = boxes.get(vm.mailbox) or boxes.get("*")
        recipients = list(box.recipients) if box is not None else []
        stored = await s.get(VoicemailAudio, voicemail_id)
        contact_name = None
        if vm.contact_id is not None and deps.contact_name is not None:
            contact_name = await deps.contact_name(vm.contact_id)
        assert tenant is not None
        facts = mail.MailFacts(
            voicemail_id=vm.id,
            tenant_name=tenant.name,
            tenant_language=tenant.default_language or vm.language,
            timezone=tenant.timezone or "Europe/Berlin",
            mailbox=vm.mailbox,
            caller_e164=vm.caller_e164,
            caller_name=vm.caller_name,
            contact_name=contact_name,
            at=vm.recorded_at or vm.created_at,
            duration_seconds=vm.duration_seconds,
            transcript=vm.transcript_text if vm.transcript_status == "done" else None,
            untranscribed_reason=vm.transcript_error,
            audio=stored.data if stored is not None else None,
        )
    if not recipients:
        log.info("voicemail: %s has no e-mail recipients (mailbox %s)", voicemail_id, facts.mailbox)
        return
    if deps.mailer is None:
        raise Retry("no mail server configured", delay=300)
    msg = mail.render(facts, recipients, deps.sender)
    msg["Message-ID"] = message_id(voicemail_id, recipients, deps.sender)
    async with deps.db.session() as s:  # the outbox mark "sending", committed first
        vm = await _message(s, voicemail_id)
        if vm.emailed_at is not None:
            return
        if vm.email_sending_at is not None:
            # An earlier send began and was never marked sent: the process died during the
            # SMTP transaction or just after the server accepted. Sent again with the same
            # Message-ID, which the receiving side can drop as a duplicate.
            log.warning(
                "voicemail: %s: the send begun at %s has no outcome; sending again as %s",
                voicemail_id, vm.email_sending_at.isoformat(), msg["Message-ID"],
            )  # fmt: skip
        vm.email_message_id = str(msg["Message-ID"])
        vm.email_sending_at = utcnow()
        vm.email_attempts = (vm.email_attempts or 0) + 1
    await deps.mailer.send(msg)
    async with deps.db.session() as s:
        vm = await _message(s, voicemail_id)
        vm.emailed_at = utcnow()
        await ctx.finish(s)


def message_id(voicemail_id: int, recipients: list[str], sender: str | None) -> str:
    """The Message-ID of a voicemail's e-mail: the same for every send of one message to one
    recipient list (RFC 5322: a re-sent copy of the same message keeps its Message-ID)."""
    digest = hashlib.sha256("\n".join(sorted(r.lower() for r in recipients)).encode()).hexdigest()
    domain = (sender or "").rpartition("@")[2].strip(" >") or "callcenter.invalid"
    return f"<voicemail-{voicemail_id}.{digest[:16]}@{domain}>"


# --- retention ---------------------------------------------------------------------------


async def retention(deps: VoicemailDeps, ctx: JobContext, _data: dict[str, Any]) -> None:
    """Delete messages (audio and transcript) older than their tenant's retention days."""
    now = utcnow()
    async with deps.db.session() as s:
        policies = list(
            await s.execute(
                select(Mailbox.tenant_id, Mailbox.retention_days).where(
                    Mailbox.mailbox == "*", Mailbox.retention_days.is_not(None)
                )
            )
        )
        total = 0
        for tenant_id, kept_days in policies:
            days = int(kept_days or 0)
            cutoff = now - timedelta(days=days)
            ids = list(
                await s.scalars(
                    select(Voicemail.id).where(
                        Voicemail.tenant_id == tenant_id, Voicemail.created_at < cutoff
                    )
                )
            )
            if not ids:
                continue
            await s.execute(delete(VoicemailAudio).where(VoicemailAudio.voicemail_id.in_(ids)))
            await s.execute(delete(Voicemail).where(Voicemail.id.in_(ids)))
            total += len(ids)
            log.info(
                "voicemail retention: tenant %s: deleted %d message(s) older than %d days",
                tenant_id, len(ids), days,
            )  # fmt: skip
            await audit.record(
                s, "voicemail.retention", tenant_id=tenant_id,
                detail={"deleted": len(ids), "days": days, "ids": ids},
            )  # fmt: skip
        await ctx.finish(s)
    log.info("voicemail retention: %d message(s) deleted", total)


# --- the tasks --------------------------------------------------------------------------


def fetch_task(deps: VoicemailDeps) -> Task:
    async def run(ctx: JobContext, data: dict[str, Any]) -> None:
        await fetch(deps, ctx, data)

    return Task(FETCH_TASK, run, max_attempts=8, backoff=Backoff(base=2.0, cap=120.0))


def transcribe_task(deps: VoicemailDeps) -> Task:
    async def run(ctx: JobContext, data: dict[str, Any]) -> None:
        await transcribe(deps, ctx, data)

    async def give_up(ctx: JobContext, data: dict[str, Any], reason: str) -> None:
        await transcription_failed(deps, ctx, data, reason)

    return Task(
        TRANSCRIBE_TASK,
        run,
        queue=TRANSCRIPTION_QUEUE,
        max_attempts=3,
        backoff=Backoff(base=5.0, cap=300.0),
        timeout=900.0,
        on_give_up=give_up,
    )


def email_task_spec(deps: VoicemailDeps | None = None) -> Task:
    async def run(ctx: JobContext, data: dict[str, Any]) -> None:
        if deps is None:
            raise Retry("no e-mail set-up in this worker")
        await email(deps, ctx, data)

    return Task(EMAIL_TASK, run, max_attempts=10, backoff=Backoff(base=30.0, cap=3600.0))


def retention_task(deps: VoicemailDeps) -> Task:
    async def run(ctx: JobContext, data: dict[str, Any]) -> None:
        await retention(deps, ctx, data)

    return Task(RETENTION_TASK, run, max_attempts=3)


def tasks(deps: VoicemailDeps) -> list[Task]:
    return [fetch_task(deps), transcribe_task(deps), email_task_spec(deps), retention_task(deps)]


PERIODIC = (Periodic(RETENTION_TASK, 3600.0),)
