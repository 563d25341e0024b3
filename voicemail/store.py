"""Message rows from the recording side: begun while the caller speaks, finished at the end.

:func:`begin` writes the row and a *safety-net* fetch job scheduled after the longest
possible message; :func:`finish` moves that job to now. So whether the message ends
normally, by a hang-up, or the app dies mid-message, exactly one fetch job exists for it
(its key is the queueing lock) and it runs once the audio is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from callcenter.db.models import Tenant, utcnow
from callcenter.db.session import Database
from jobs import queue
from jobs.models import Job
from voicemail.models import Mailbox, Voicemail

FETCH_TASK = "voicemail.fetch"
FETCH_MARGIN = timedelta(seconds=60)


def fetch_key(voicemail_id: int) -> str:
    return f"voicemail:{voicemail_id}:fetch"


@dataclass(frozen=True, slots=True)
class NewMessage:
    tenant_slug: str
    mailbox: str
    recording: str
    language: str
    caller_e164: str | None
    caller_name: str | None
    contact_id: int | None
    linkedid: str | None
    channel_id: str
    format: str
    max_seconds: int


@dataclass(frozen=True, slots=True)
class BoxSettings:
    tenant_id: int
    recipients: tuple[str, ...]
    greetings: dict[str, str]
    max_seconds: int
    silence_seconds: int
    review: bool


async def box_settings(
    db: Database, tenant_slug: str, mailbox: str, *, max_seconds: int, silence_seconds: int
) -> BoxSettings | None:
    """The mailbox's settings (its own row, else the tenant's ``*`` row, else the defaults
    given); None when the tenant does not exist."""
    async with db.session() as s:
        tenant_id = await s.scalar(select(Tenant.id).where(Tenant.slug == tenant_slug))
        if tenant_id is None:
            return None
        rows = {
            r.mailbox: r
            for r in await s.scalars(
                select(Mailbox).where(
                    Mailbox.tenant_id == tenant_id, Mailbox.mailbox.in_([mailbox, "*"])
                )
            )
        }
    row = rows.get(mailbox) or rows.get("*")
    if row is None:
        return BoxSettings(tenant_id, (), {}, max_seconds, silence_seconds, False)
    return BoxSettings(
        tenant_id,
        tuple(row.recipients or ()),
        dict(row.greetings or {}),
        row.max_seconds,
        row.silence_seconds,
        row.review,
    )


async def begin(db: Database, tenant_id: int, msg: NewMessage) -> int:
    """Store the message row (``recording``) and its safety-net fetch job."""
    async with db.session() as s:
        row = Voicemail(
            tenant_id=tenant_id,
            mailbox=msg.mailbox,
            status="recording",
            caller_e164=msg.caller_e164,
            caller_name=msg.caller_name,
            contact_id=msg.contact_id,
            language=msg.language,
            call_linkedid=msg.linkedid,
            channel_id=msg.channel_id,
            recording_name=msg.recording,
            format=msg.format,
            created_at=utcnow(),
            transcript_status="pending",
        )
        s.add(row)
        await s.flush()
        run_at = utcnow() + timedelta(seconds=msg.max_seconds) + FETCH_MARGIN
        await queue.enqueue(
            s, FETCH_TASK, {"voicemail_id": row.id}, run_at=run_at, key=fetch_key(row.id),
            max_attempts=8,
        )  # fmt: skip
        return row.id


async def finish(db: Database, recording: str, reason: str) -> int | None:
    """The caller is done (``reason``): fetch the audio now. Returns the message id."""
    async with db.session() as s:
        row = await s.scalar(select(Voicemail).where(Voicemail.recording_name == recording))
        if row is None:
            return None
        row.recorded_at = row.recorded_at or utcnow()
        await s.execute(
            update(Job)
            .where(Job.key == fetch_key(row.id), Job.status == "queued")
            .values(run_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return row.id
