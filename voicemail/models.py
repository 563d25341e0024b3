"""Voicemail tables: messages, their audio, mailbox settings, tenant retention.

A message row is written when recording *starts* (``status='recording'``, with the name
of the PBX's stored recording), so a crash of the app mid-message still knows what to fetch.
The audio lives in ``voicemail_audio`` (one row per message, checksummed): it is reachable
from every worker on every machine that reaches the database, goes with the message in one
transaction on retention and erasure, and needs no shared filesystem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, in_check, json_type, utcnow

# recording: the caller is (or was, before a crash) recording; stored: audio fetched;
# empty: silent or too short, kept as such but not delivered; lost: the PBX had no file.
STATUSES = ("recording", "stored", "empty", "lost")
# pending: waiting for a worker; done; failed (reason in transcript_error); none: not
# transcribed on purpose (empty message).
TRANSCRIPT_STATUSES = ("pending", "done", "failed", "none")


class Voicemail(Base):
    """One message left by a caller."""

    __tablename__ = "voicemails"
    __table_args__ = (
        CheckConstraint(in_check("status", STATUSES), name="status"),
        CheckConstraint(in_check("transcript_status", TRANSCRIPT_STATUSES), name="transcript"),
        Index("ix_voicemails_inbox", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    mailbox: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="recording")
    caller_e164: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(200))
    contact_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    language: Mapped[str] = mapped_column(String(16))
    call_linkedid: Mapped[str | None] = mapped_column(String(64))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    recording_name: Mapped[str] = mapped_column(String(120), unique=True)
    format: Mapped[str] = mapped_column(String(8), default="wav")
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transcript_status: Mapped[str] = mapped_column(String(16), default="pending")
    transcript_text: Mapped[str | None] = mapped_column(Text)
    transcript_words: Mapped[list[dict[str, Any]] | None] = mapped_column(json_type())
    transcript_model: Mapped[str | None] = mapped_column(String(120))
    transcript_rtf: Mapped[float | None] = mapped_column(Float)
    transcript_error: Mapped[str | None] = mapped_column(Text)
    transcribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The e-mail outbox: the Message-ID every send of this message carries (fixed per
    # message and recipient list), when the last send began (set and committed before the
    # SMTP transaction: "sending"; an unknown outcome if ``emailed_at`` stays empty) and how
    # many sends began.
    email_message_id: Mapped[str | None] = mapped_column(String(250))
    email_sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[int | None] = mapped_column(Integer)
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    callback_id: Mapped[int | None] = mapped_column(BigInteger)


class VoicemailAudio(Base):
    """The message's audio bytes (WAV as the PBX recorded it)."""

    __tablename__ = "voicemail_audio"

    voicemail_id: Mapped[int] = mapped_column(
        ForeignKey("voicemails.id", ondelete="CASCADE"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(40), default="audio/wav")
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Mailbox(Base):
    """How a tenant's mailbox records and whom it tells; ``mailbox='*'`` holds the tenant's
    defaults for boxes without a row of their own."""

    __tablename__ = "voicemail_boxes"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox: Mapped[str] = mapped_column(String(40), primary_key=True)
    recipients: Mapped[list[str]] = mapped_column(json_type(), default=list)
    # language -> media URI of the tenant's own greeting (e.g. "sound:tenants/x/vm-de");
    # without one: Asterisk's vm-intro in the caller's language.
    greetings: Mapped[dict[str, str]] = mapped_column(json_type(), default=dict)
    max_seconds: Mapped[int] = mapped_column(Integer, default=180)
    silence_seconds: Mapped[int] = mapped_column(Integer, default=6)
    review: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_id: Mapped[str | None] = mapped_column(String(64))
    # Days a message is kept (on the '*' row: the tenant's policy); None: kept until deleted.
    retention_days: Mapped[int | None] = mapped_column(Integer)
