"""The ``callback_requests`` table (revision ``0004_callbacks``).

One row per accepted callback offer, written by the app the moment the caller accepts, so a
request survives a crash of the PBX or the app right after the call. Dialling the callbacks
is a later feature; it moves ``status`` on from ``pending``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, in_check, utcnow

STATUSES: tuple[str, ...] = ("pending", "dialling", "done", "failed", "cancelled")


class CallbackRequest(Base):
    """A caller's request to be called back by the agents of ``queue``."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(in_check("status", STATUSES), name="status"),
        Index("ix_callback_requests_status_requested_at", "status", "requested_at"),
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
