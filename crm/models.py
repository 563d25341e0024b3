"""CRM tables: organisations, contacts, their numbers, telephone notes, call links, webhooks.

``tenant_id`` NULL on a contact or organisation means a *shared* record of the secretariat,
visible to every tenant's lookup. Contacts and organisations go with their tenant
(``ON DELETE CASCADE``); call links go with their call.

Number rows carry a copy of their contact's ``tenant_id``: the screen-pop lookup then reads
one index (``e164, tenant_id``) without touching the contacts table to filter by tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, json_type, utcnow

JSONType = json_type()

CONSENT_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interest",
    "public_task",
    "legitimate_interest",
)
"""GDPR Art. 6(1) lawful bases (a–f)."""

URGENCIES = ("low", "normal", "high", "urgent")


class Organisation(Base):
    """A company a tenant deals with; its switchboard prefix identifies direct-dial callers."""

    __tablename__ = "crm_organisations"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    switchboard_raw: Mapped[str | None] = mapped_column(String(64))
    switchboard_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    # E.164 digits every direct-dial number of this company starts with ("+493012345").
    number_prefix: Mapped[str | None] = mapped_column(String(20), index=True)
    website: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(Base):
    """A person (or line) that calls a tenant."""

    __tablename__ = "crm_contacts"
    __table_args__ = (Index("ix_crm_contacts_tenant_email", "tenant_id", "email_norm"),)

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_organisations.id", ondelete="SET NULL"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(100), default="")
    family_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    email_norm: Mapped[str | None] = mapped_column(String(254))
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    consent_basis: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64), default="manual")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactNumber(Base):
    """One phone number of a contact, as entered and in E.164."""

    __tablename__ = "crm_contact_numbers"
    # Covering index: the lookup reads contact_id from the index without a heap visit.
    __table_args__ = (
        Index(
            "ix_crm_contact_numbers_e164_tenant",
            "e164",
            "tenant_id",
            postgresql_include=["contact_id"],
        ),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="other")
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)


class Note(Base):
    """A telephone note: a message taken by a receptionist for a tenant's staff member."""

    __tablename__ = "crm_notes"
    __table_args__ = (Index("ix_crm_notes_contact_taken", "contact_id", "taken_at"),)

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_contacts.id", ondelete="SET NULL")
    )
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(254))
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_e164: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    callback_wanted: Mapped[bool] = mapped_column(Boolean, default=False)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    language: Mapped[str] = mapped_column(String(16), default="de")
    taken_by: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivery_status: Mapped[str] = mapped_column(String(16), default="pending")
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivery_error: Mapped[str | None] = mapped_column(Text)


class CallLink(Base):
    """Which contact a call belongs to (set by the lookup, changed by a receptionist)."""

    __tablename__ = "crm_call_links"

    call_id: Mapped[int] = mapped_column(
        bigint_pk(), ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("crm_contacts.id", ondelete="CASCADE"), index=True
    )
    method: Mapped[str] = mapped_column(String(16), default="auto")  # auto | manual
    linked_by: Mapped[int | None] = mapped_column(Integer)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(Base):
    """An HTTPS endpoint of a tenant that receives signed event notifications."""

    __tablename__ = "crm_webhook_endpoints"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to deliver to one endpoint; survives restarts until delivered or given up."""

    __tablename__ = "crm_webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_crm_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("crm_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # exact bytes that are signed, as UTF-8 text
    status: Mapped[str] = mapped_column(String(16), default="pending")  # delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """Delivery log: one row per HTTP attempt."""

    __tablename__ = "crm_webhook_attempts"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("crm_webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class Erasure(Base):
    """Audit record of a GDPR erasure; holds no personal data."""

    __tablename__ = "crm_erasures"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    erased_by: Mapped[int | None] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
