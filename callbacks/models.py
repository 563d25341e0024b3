"""The callback tables: ``callback_requests`` (0004, extended by 0008) and ``callback_attempts``.

One request row per callback (merged: the same number waiting twice for a tenant is one
row), written the moment the caller confirms, so a request survives any crash right after
the call. The row is also the durable scheduling state: ``status``/``stage`` say where the
callback is, ``lease_*`` who works on it, and every dial is an attempt row. After an app,
Redis or Asterisk restart the dispatcher rebuilds everything from these two tables.

status    stage      meaning
pending   –          waiting for its turn (``due_at``: not before; NULL: as soon as open)
dialling  queued     its placeholder holds the virtual place in app_queue
dialling  direct     assigned: its placeholder rings the assigned receptionist directly
dialling  ringing    a receptionist took it; the customer is being dialled
dialling  confirmed  customer first: the customer pressed 1, waits for a receptionist
dialling  connected  receptionist and customer bridged
done      –          final outcome ``completed``
failed    –          final outcome ``no_answer``, ``busy``, ``failed`` or ``expired``
                     (past ``expires_at``: the tenant's ``max_age`` or the API's time)
cancelled –          final outcome ``cancelled`` (receptionist, API or tenant)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, in_check, utcnow

STATUSES: tuple[str, ...] = ("pending", "dialling", "done", "failed", "cancelled")
ACTIVE: tuple[str, ...] = ("pending", "dialling")
STAGES: tuple[str, ...] = ("queued", "direct", "ringing", "confirmed", "connected")
WAITING: tuple[str, ...] = ("queued", "direct")  # a placeholder exists, nobody took it yet
OUTCOMES: tuple[str, ...] = ("completed", "no_answer", "busy", "failed", "cancelled", "expired")
# Per attempt: what happened to that one dial ("machine": answered, guard not confirmed;
# "interrupted": the PBX went away mid-dial, so the attempt's end is unknown).
ATTEMPT_OUTCOMES: tuple[str, ...] = (
    "answered",
    "no_answer",
    "busy",
    "failed",
    "machine",
    "interrupted",
)
_ACTIVE_SQL = text("status IN ('pending', 'dialling')")


class CallbackRequest(Base):
    """A caller's request to be called back by the agents of ``queue``."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(in_check("status", STATUSES), name="status"),
        Index("ix_callback_requests_status_requested_at", "status", "requested_at"),
        # One active request per number and tenant: a second request merges into it.
        Index(
            "uq_callback_requests_active_number",
            "tenant",
            "number",
            unique=True,
            postgresql_where=_ACTIVE_SQL,
            sqlite_where=_ACTIVE_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    tenant: Mapped[str] = mapped_column(String(64))  # slug, kept if the tenant row goes
    number: Mapped[str] = mapped_column(String(32))  # E.164, validated (no premium rate)
    queue: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The call that asked; unique so a retried store never makes a second request.
    linkedid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The virtual place: when the caller joined the queue (or asked, from the IVR/API),
    # and the queue priority (VIP) they had. Served by (priority desc, arrival_at).
    arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stage: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not dialled before
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    requests: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # merged
    source: Mapped[str] = mapped_column(String(16), default="ivr", server_default="ivr")
    outcome: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[float | None] = mapped_column()  # waited on the line before asking
    agent: Mapped[str | None] = mapped_column(String(80))  # the receptionist who took it
    note: Mapped[str | None] = mapped_column(Text)
    # Assigned to one receptionist (queue member name): offered to nobody else until
    # ``assigned_until``, then it falls back to its place in the queue (0016).
    assigned_to: Mapped[str | None] = mapped_column(String(80))
    assigned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lease: who dispatches it now; every new lease increments the fencing token, and every
    # write of the dispatcher names the token it holds (a stale holder's write matches 0 rows).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CallbackAttempt(Base):
    """One dial of a callback's customer; ``channel_id`` is the deterministic ARI id."""

    __tablename__ = "callback_attempts"
    __table_args__ = (
        UniqueConstraint("request_id", "attempt"),
        CheckConstraint(in_check("outcome", ATTEMPT_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("callback_requests.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    lease_token: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    agent: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    cause: Mapped[str | None] = mapped_column(String(32))  # Asterisk hangup cause
    # Customer first (0016): the guard's progress, so a restarted app resumes the attempt
    # where it was (customer ringing, hearing "press 1", or confirmed and waiting).
    mode: Mapped[str | None] = mapped_column(String(16))  # "customer_first" or NULL
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    guard_plays: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
