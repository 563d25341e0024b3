"""E-mail recipients cannot be injected; line separators are line breaks; one bad note
never stops the retry queue for the others. Real SMTP conversation on loopback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from callcenter.db.session import Database
from crm import notes
from crm.contact import ValidationError
from crm.mailer import SmtpMailer
from crm.models import Note
from jobs import queue as job_queue
from jobs.models import Job
from jobs.worker import Worker
from tests.integration.test_crm_notes import SmtpReceiver, _tenant, db, smtp

__all__ = ["db", "smtp"]  # fixtures


async def test_a_recipient_name_cannot_add_recipients(db: Database, smtp: SmtpReceiver) -> None:
    tenant = await _tenant(db, "de")
    data = notes.note_from_mapping(
        {
            "recipient_name": "Chef <attacker@evil.example>, Boss",
            "recipient_email": "chef@mueller.example",
            "subject": "Rückruf",
        }
    )
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="sekretariat@callcenter.example")
    note = await notes.take_note(db, tenant, data, mailer, sender=mailer.sender)
    assert note.delivery_status == "sent"
    assert smtp.envelopes == [("sekretariat@callcenter.example", ["chef@mueller.example"])]
    (msg,) = smtp.messages
    (to,) = msg["To"].addresses
    assert to.addr_spec == "chef@mueller.example"
    assert to.display_name == "Chef <attacker@evil.example>, Boss"


@pytest.mark.parametrize(
    "address",
    [
        "chef@mueller.example, attacker@evil.example",
        "chef@mueller.example;attacker@evil.example",
        "Chef <chef@mueller.example>",
        "chef@@mueller.example",
        "chef@mueller.example\u2028Bcc: attacker@evil.example",
    ],
)
def test_recipient_email_is_one_valid_address(address: str) -> None:
    with pytest.raises(ValidationError) as info:
        notes.note_from_mapping({"recipient_email": address, "subject": "x"})
    assert info.value.field == "recipient_email"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\r", "\n"])
def test_line_separators_in_single_line_fields_are_refused(separator: str) -> None:
    with pytest.raises(ValidationError) as info:
        notes.note_from_mapping(
            {"recipient_email": "chef@mueller.example", "subject": f"Rückruf{separator}Bcc: x"}
        )
    assert info.value.field == "subject"


async def test_one_bad_note_never_blocks_the_retry_queue(db: Database, smtp: SmtpReceiver) -> None:
    """A note stored before validation existed (subject with U+2028, recipient list) used
    to abort every retry pass; now it is marked failed with the reason and the rest go."""
    tenant = await _tenant(db, "en")
    marker = uuid.uuid4().hex[:8]
    async with db.session() as s:
        bad = Note(
            tenant_id=tenant,
            recipient_name="",
            recipient_email="a@x.example, b@y.example",
            subject=f"bad\u2028{marker}",
            language="en",
            delivery_status="pending",
        )
        good = Note(
            tenant_id=tenant,
            recipient_name="",
            recipient_email="ok@mueller.example",
            subject=f"good {marker}",
            language="en",
            delivery_status="pending",
        )
        s.add_all([bad, good])
        await s.flush()
        bad_id, good_id = bad.id, good.id
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="sekretariat@callcenter.example")
    async with db.session() as s:  # their retry jobs, as take_note queues them
        for note_id in (bad_id, good_id):
            await job_queue.enqueue(s, notes.EMAIL_TASK, {"note_id": note_id})
    await Worker(db, [notes.email_task(db, mailer)], poll_interval=0.05).drain(timeout=30)
    async with db.session() as s:
        bad_row, good_row = await s.get(Note, bad_id), await s.get(Note, good_id)
        bad_job = await s.scalar(
            select(Job).where(
                Job.task == notes.EMAIL_TASK, Job.payload["note_id"].as_integer() == bad_id
            )
        )
    assert bad_job is not None and (bad_job.status, bad_job.attempts) == ("failed", 1)
    assert good_row is not None and good_row.delivery_status == "sent"
    assert bad_row is not None and bad_row.delivery_status == "failed"
    assert bad_row.delivery_error and "recipient" in bad_row.delivery_error
    assert [m["Subject"] for m in smtp.messages if marker in m["Subject"]] == [
        f"Phone message: good {marker}"
    ]
