"""Telephone notes: a receptionist takes a message for a tenant's staff member.

The note is stored first (on the contact's timeline, ``delivery_status='pending'``) and then
e-mailed in the tenant's language, at once, so the receptionist sees whether it went out. A
mail failure never loses the note: it stays ``failed`` with the reason, and the retry job
queued with it (:data:`EMAIL_TASK`, background-job engine, in the note's own transaction)
sends it again with backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Tenant, utcnow
from callcenter.db.session import Database
from callcenter.emailaddr import AddressError, header_address, normalise_address
from callcenter.inputs import has_line_break
from callcenter.phone.numbers import classify_caller
from crm import webhooks
from crm.contact import ValidationError, clean_text, parse_bool
from crm.lookup import Lookup
from crm.mailer import Mailer, MailError
from crm.models import URGENCIES, Note
from jobs import queue as job_queue
from jobs.policy import Backoff
from jobs.worker import JobContext, Permanent, Retry, Task

log = logging.getLogger(__name__)
EMAIL_TASK = "notes.email"
RETRY_AFTER = 60.0  # the first retry, if the immediate attempt fails
EMAIL_ATTEMPTS = 12  # with the backoff below: about 1.5 days of retries
EMAIL_BACKOFF = Backoff(base=60.0, cap=6 * 3600.0)
UNSENDABLE = "bad recipient or header"


@dataclass(frozen=True, slots=True)
class NoteInput:
    """What the receptionist typed."""

    recipient_name: str
    recipient_email: str
    subject: str
    message: str = ""
    caller_name: str = ""
    caller_number: str = ""
    callback_wanted: bool = False
    urgency: str = "normal"
    contact_id: int | None = None
    call_id: int | None = None


def note_from_mapping(data: Mapping[str, Any]) -> NoteInput:
    """Validate a JSON body; raises :class:`ValidationError` with the field."""
    recipient_email = clean_text(data.get("recipient_email"), "recipient_email", 254)
    if not recipient_email:
        raise ValidationError("recipient_email", "an e-mail address is required")
    try:
        recipient_email = normalise_address(recipient_email)
    except AddressError as exc:
        raise ValidationError("recipient_email", str(exc)) from None
    subject = clean_text(data.get("subject"), "subject", 300)
    if not subject:
        raise ValidationError("subject", "required")
    urgency = clean_text(data.get("urgency"), "urgency", 16) or "normal"
    if urgency not in URGENCIES:
        raise ValidationError("urgency", f"must be one of {', '.join(URGENCIES)}")
    ids: dict[str, int | None] = {}
    for key in ("contact_id", "call_id"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValidationError(key, "must be an integer")
        ids[key] = value
    return NoteInput(
        recipient_name=clean_text(data.get("recipient_name"), "recipient_name", 200),
        recipient_email=recipient_email,
        subject=subject,
        message=clean_text(data.get("message"), "message", 10_000, multiline=True),
        caller_name=clean_text(data.get("caller_name"), "caller_name", 200),
        caller_number=clean_text(data.get("caller_number"), "caller_number", 64),
        callback_wanted=parse_bool(data.get("callback_wanted"), "callback_wanted"),
        urgency=urgency,
        contact_id=ids["contact_id"],
        call_id=ids["call_id"],
    )


# ---------------------------------------------------------------- e-mail text (pure)

_TEXT = {
    "de": {
        "subject": "Telefonnotiz: {subject}",
        "urgent": "[DRINGEND] ",
        "hello": "Hallo {name},",
        "called": "{caller} hat am {date} um {time} Uhr für {tenant} angerufen.",
        "unknown": "Ein Anrufer",
        "subject_label": "Betreff",
        "message_label": "Nachricht",
        "callback": "Rückruf erwünscht",
        "yes": "Ja",
        "no": "Nein",
        "number": "Rufnummer",
        "urgency": "Dringlichkeit",
        "urgencies": {"low": "niedrig", "normal": "normal", "high": "hoch", "urgent": "dringend"},
        "footer": "Diese Notiz wurde vom Telefonservice aufgenommen.",
    },
    "en": {
        "subject": "Phone message: {subject}",
        "urgent": "[URGENT] ",
        "hello": "Hello {name},",
        "called": "{caller} called {tenant} on {date} at {time}.",
        "unknown": "A caller",
        "subject_label": "Subject",
        "message_label": "Message",
        "callback": "Callback requested",
        "yes": "Yes",
        "no": "No",
        "number": "Number",
        "urgency": "Urgency",
        "urgencies": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
        "footer": "This message was taken by the answering service.",
    },
}


def _locale(language: str) -> tuple[str, Locale]:
    """Text catalogue key and babel locale; unknown languages fall back to English."""
    key = language.replace("-", "_").split("_", 1)[0].lower()
    try:
        loc = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        loc = Locale.parse("en")
    return (key if key in _TEXT else "en"), loc


def render_email(
    note: Note, *, tenant_name: str, language: str, timezone: str, sender: str | None = None
) -> EmailMessage:
    """The e-mail for ``note`` in ``language``; dates in the tenant's time zone (babel)."""
    key, loc = _locale(language)
    t: dict[str, Any] = _TEXT[key]
    when = note.taken_at.astimezone(ZoneInfo(timezone))
    caller = " ".join(p for p in (note.caller_name, f"({note.caller_number})") if p.strip("()"))
    msg = EmailMessage()
    prefix = t["urgent"] if note.urgency == "urgent" else ""
    msg["Subject"] = prefix + t["subject"].format(subject=note.subject)
    # One Address object: the name is quoted, the address is exactly one (no injection).
    msg["To"] = header_address(note.recipient_email, note.recipient_name or "")
    if has_line_break(note.subject):  # stored before the input checks existed
        raise AddressError("the subject must be on one line")
    if sender:
        msg["From"] = sender
    if note.id is not None:  # every send of this note is the same message (a re-send after
        msg["Message-ID"] = message_id(note.id, sender)  # a crash is recognisably one)
    if note.urgency in ("high", "urgent"):
        msg["X-Priority"] = "1"
    lines = [
        t["hello"].format(name=note.recipient_name or note.recipient_email),
        "",
        t["called"].format(
            caller=caller or t["unknown"],
            date=format_date(when.date(), "full", locale=loc),
            time=format_time(when.time(), "short", locale=loc),
            tenant=tenant_name,
        ),
        "",
        f"{t['subject_label']}: {note.subject}",
    ]
    if note.message:
        lines += ["", f"{t['message_label']}:", note.message]
    lines += [
        "",
        f"{t['callback']}: {t['yes'] if note.callback_wanted else t['no']}",
    ]
    if note.caller_number:
        lines.append(f"{t['number']}: {note.caller_number}")
    lines += [f"{t['urgency']}: {t['urgencies'][note.urgency]}", "", "-- ", t["footer"]]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def message_id(note_id: int, sender: str | None) -> str:
    """The Message-ID of a note's e-mail, fixed per note: if the worker dies after the mail
    server accepted it but before ``delivery_status = 'sent'`` is committed, the re-send
    carries the same id, which a receiver that drops duplicate Message-IDs shows once."""
    domain = (sender or "").rpartition("@")[2].strip(" >") or "callcenter.invalid"
    return f"<note-{note_id}@{domain}>"


# ---------------------------------------------------------------- storage and delivery


async def _tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise ValidationError("tenant_id", f"tenant {tenant_id} does not exist")
    return tenant


async def take_note(
    db: Database,
    tenant_id: int,
    data: NoteInput,
    mailer: Mailer,
    *,
    taken_by: int | None = None,
    sender: str | None = None,
) -> Note:
    """Store the note (linked to the caller's contact when found) and e-mail it.

    Returns the stored note with its final ``delivery_status`` (``sent`` or ``failed``).
    """
    async with db.session() as s:
        tenant = await _tenant(s, tenant_id)
        region = tenant.region or "DE"
        caller = classify_caller(data.caller_number, region) if data.caller_number else None
        contact_id = data.contact_id
        if contact_id is None and caller is not None and caller.e164:
            match = await Lookup(db.engine).lookup(tenant_id, caller.e164, region)
            contact_id = match.contact_id
        note = Note(
            tenant_id=tenant_id,
            contact_id=contact_id,
            call_id=data.call_id,
            recipient_name=data.recipient_name,
            recipient_email=data.recipient_email,
            caller_name=data.caller_name,
            caller_number=data.caller_number,
            caller_e164=caller.e164 if caller else None,
            subject=data.subject,
            message=data.message,
            callback_wanted=data.callback_wanted,
            urgency=data.urgency,
            language=tenant.default_language or "de",
            taken_by=taken_by,
            taken_at=utcnow(),
            delivery_status="pending",
        )
        s.add(note)
        await s.flush()
        await webhooks.enqueue(s, tenant_id, "note.taken", note_payload(note))
        await job_queue.enqueue(
            s, EMAIL_TASK, {"note_id": note.id}, key=f"note:{note.id}:email",
            run_at=utcnow() + timedelta(seconds=RETRY_AFTER), max_attempts=EMAIL_ATTEMPTS,
        )  # fmt: skip
    await deliver(db, note.id, mailer, sender=sender)
    async with db.session() as s:
        stored = await s.get(Note, note.id)
        assert stored is not None
        return stored


def note_payload(note: Note) -> dict[str, Any]:
    """The JSON view of a note (API and the ``note.taken`` webhook)."""
    return {
        "id": note.id,
        "tenant_id": note.tenant_id,
        "contact_id": note.contact_id,
        "call_id": note.call_id,
        "recipient_name": note.recipient_name,
        "recipient_email": note.recipient_email,
        "caller_name": note.caller_name,
        "caller_number": note.caller_number,
        "caller_e164": note.caller_e164,
        "subject": note.subject,
        "message": note.message,
        "callback_wanted": note.callback_wanted,
        "urgency": note.urgency,
        "language": note.language,
        "taken_by": note.taken_by,
        "taken_at": note.taken_at.isoformat(),
        "delivery_status": note.delivery_status,
        "delivered_at": note.delivered_at.isoformat() if note.delivered_at else None,
        "delivery_error": note.delivery_error,
    }


async def deliver(db: Database, note_id: int, mailer: Mailer, *, sender: str | None = None) -> bool:
    """E-mail one stored note and record the outcome. Returns True when sent."""
    async with db.session() as s:
        note = await s.get(Note, note_id)
        if note is None or note.delivery_status == "sent":
            return note is not None
        tenant = await _tenant(s, note.tenant_id)
        error: str | None = None
        try:
            message: EmailMessage | None = render_email(
                note,
                tenant_name=tenant.name,
                language=note.language,
                timezone=tenant.timezone or "Europe/Berlin",
                sender=sender,
            )
        except (AddressError, ValueError) as exc:  # this note can never be sent as it is
            message, error = None, f"{UNSENDABLE}: {exc}"
    if message is not None:
        try:
            await mailer.send(message)
        except MailError as exc:
            error = str(exc)
    async with db.session() as s:
        note = await s.get(Note, note_id)
        assert note is not None
        note.delivery_status = "failed" if error else "sent"
        note.delivery_error = error
        note.delivered_at = None if error else utcnow()
    return error is None


def email_task(db: Database, mailer: Mailer | None, *, sender: str | None = None) -> Task:
    """The ``notes.email`` task: (re)send a note that is not yet sent."""

    async def run(ctx: JobContext, data: dict[str, Any]) -> None:
        note_id = int(data["note_id"])
        if mailer is None:
            raise Retry("no mail server configured")
        if await deliver(db, note_id, mailer, sender=sender):
            return
        async with db.session() as s:
            note = await s.get(Note, note_id)
            error = note.delivery_error if note is not None else None
        if note is None:
            raise Permanent(f"note {note_id} no longer exists")
        if error is not None and error.startswith(UNSENDABLE):
            raise Permanent(error)  # retrying cannot fix the address
        raise Retry(error or "not sent")

    return Task(EMAIL_TASK, run, max_attempts=EMAIL_ATTEMPTS, backoff=EMAIL_BACKOFF)
