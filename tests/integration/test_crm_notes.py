"""Telephone notes: stored on the timeline and e-mailed through a real SMTP conversation."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from callcenter.db import migrate
from callcenter.db.models import Tenant, utcnow
from callcenter.db.session import Database
from crm import notes
from crm import repository as repo
from crm.contact import ValidationError, contact_from_mapping
from crm.mailer import SmtpMailer
from crm.models import Note, WebhookDelivery
from crm.webhooks import create_endpoint
from jobs.models import Job
from jobs.policy import Backoff
from jobs.worker import Worker


class SmtpReceiver:
    """A minimal RFC 5321 server on localhost that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        reply("220 localhost test SMTP")
        sender, rcpts = "", list[str]()
        while line := (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250-localhost")
                reply("250 8BITMIME")
            elif verb == "HELO":
                reply("250 localhost")
            elif verb == "MAIL":
                sender, rcpts = line[10:].strip("<> "), []
                reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(line[8:].strip("<> "))
                reply("250 OK")
            elif verb == "DATA":
                reply("354 go ahead")
                await writer.drain()
                data = bytearray()
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                msg = email.message_from_bytes(bytes(data), policy=email.policy.default)
                assert isinstance(msg, EmailMessage)
                self.messages.append(msg)
                self.envelopes.append((sender, rcpts))
                reply("250 queued")
            elif verb == "QUIT":
                reply("221 bye")
                await writer.drain()
                break
            else:
                reply("250 OK")
            await writer.drain()
        writer.close()


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpReceiver]:
    server = SmtpReceiver()
    await server.start()
    yield server
    await server.stop()


async def _tenant(db: Database, language: str) -> int:
    async with db.session() as s:
        t = Tenant(slug=f"n-{uuid.uuid4().hex[:8]}", name="Müller GmbH", default_language=language)
        s.add(t)
        await s.flush()
        return t.id


async def test_note_is_stored_linked_and_mailed_in_german(db: Database, smtp: SmtpReceiver) -> None:
    tenant = await _tenant(db, "de")
    async with db.session() as s:
        contact = await repo.create_contact(
            s,
            tenant,
            contact_from_mapping({"display_name": "Anna", "numbers": [{"number": "0171 5553001"}]}),
        )
        endpoint = await create_endpoint(s, tenant, "http://127.0.0.1:9/hook", ["note.taken"])
    data = notes.note_from_mapping(
        {
            "recipient_name": "Herr Müller",
            "recipient_email": "mueller@mueller.example",
            "caller_name": "Anna",
            "caller_number": "0171 555 3001",
            "subject": "Angebot Nr. 4711",
            "message": "Bitte heute noch zurückrufen.\nEs geht um die Lieferung.",
            "callback_wanted": True,
            "urgency": "urgent",
        }
    )
    mailer = SmtpMailer("127.0.0.1", smtp.port, sender="sekretariat@callcenter.example")
    note = await notes.take_note(db, tenant, data, mailer, sender=mailer.sender)
    assert note.delivery_status == "sent" and note.contact_id == contact.id
    assert note.caller_e164 == "+491715553001"
    (msg,) = smtp.messages
    assert smtp.envelopes[0] == ("sekretariat@callcenter.example", ["mueller@mueller.example"])
    assert msg["Subject"] == "[DRINGEND] Telefonnotiz: Angebot Nr. 4711"
    body = msg.get_content()
    assert "Hallo Herr Müller," in body
    assert "Rückruf erwünscht: Ja" in body and "Dringlichkeit: dringend" in body
    # babel: German weekday and month names, in the tenant's time zone
    weekday = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
    assert any(f"am {d}, " in body for d in weekday)
    assert "Es geht um die Lieferung." in body
    async with db.session() as s:
        queued = (
            await s.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
            )
        ).all()
    assert len(queued) == 1


async def test_english_tenant_gets_english_mail(db: Database, smtp: SmtpReceiver) -> None:
    tenant = await _tenant(db, "en")
    data = notes.note_from_mapping(
        {"recipient_email": "boss@example.com", "subject": "Invoice", "caller_number": "anonymous"}
    )
    note = await notes.take_note(db, tenant, data, SmtpMailer("127.0.0.1", smtp.port))
    assert note.contact_id is None and note.caller_e164 is None
    (msg,) = smtp.messages
    assert msg["Subject"] == "Phone message: Invoice"
    assert "Callback requested: No" in msg.get_content()


async def test_mail_server_down_keeps_the_note_and_retries_later(
    db: Database, smtp: SmtpReceiver
) -> None:
    tenant = await _tenant(db, "de")
    data = notes.note_from_mapping({"recipient_email": "x@example.de", "subject": "Später"})
    down = SmtpMailer("127.0.0.1", 9, timeout=2)  # discard port: connection refused
    note = await notes.take_note(db, tenant, data, down)
    assert note.delivery_status == "failed" and "127.0.0.1:9" in (note.delivery_error or "")
    async with db.session() as s:  # the retry job was queued with the note
        job = await s.scalar(select(Job).where(Job.key == f"note:{note.id}:email"))
        assert job is not None and job.status == "queued" and job.run_at > utcnow()
        job.run_at = utcnow()  # the mail server is back: don't wait a minute in the test
    task = notes.email_task(db, SmtpMailer("127.0.0.1", smtp.port))
    await Worker(db, [task], poll_interval=0.05).drain(timeout=30, horizon=0)
    async with db.session() as s:
        stored = await s.get(Note, note.id)
        assert stored is not None and stored.delivery_status == "sent"
        done = await s.get(Job, job.id)
        assert done is not None and (done.status, done.attempts) == ("done", 1)
    assert [m["Subject"] for m in smtp.messages].count("Telefonnotiz: Später") == 1


async def test_retries_are_bounded_and_end_failed_with_the_reason(db: Database) -> None:
    tenant = await _tenant(db, "de")
    data = notes.note_from_mapping({"recipient_email": "y@example.de", "subject": "Nie"})
    down = SmtpMailer("127.0.0.1", 9, timeout=2)
    note = await notes.take_note(db, tenant, data, down)
    async with db.session() as s:
        job = await s.scalar(select(Job).where(Job.key == f"note:{note.id}:email"))
        assert job is not None and job.max_attempts == notes.EMAIL_ATTEMPTS
        job.run_at, job.max_attempts = utcnow(), 2
    task = dataclasses.replace(notes.email_task(db, down), backoff=Backoff(0.05, 0.05))
    await Worker(db, [task], poll_interval=0.05).drain(timeout=30)
    async with db.session() as s:
        failed = await s.get(Job, job.id)
        stored = await s.get(Note, note.id)
    assert failed is not None and (failed.status, failed.attempts) == ("failed", 2)
    assert stored is not None and stored.delivery_status == "failed"
    assert "127.0.0.1:9" in (failed.last_error or "")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "x"}, "recipient_email"),
        ({"recipient_email": "a@b.de"}, "subject"),
        ({"recipient_email": "a@b.de", "subject": "x\r\nBcc: evil@x"}, "subject"),
        ({"recipient_email": "a@b.de", "subject": "x", "urgency": "asap"}, "urgency"),
    ],
)
def test_bad_note_input_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        notes.note_from_mapping(body)
    assert info.value.field == field
