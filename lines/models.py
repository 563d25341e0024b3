"""Receptionists' phones: one PJSIP endpoint each, provisioned from this table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, utcnow


class Phone(Base):
    """A SIP phone or browser softphone; ``name`` is its endpoint and SIP user name.

    A receptionist position uses it when its agent's interface is ``PJSIP/<name>``. Only
    the digest of the password is kept (``MD5:<hex>`` of ``name:realm:password``): the
    password itself is shown once, when it is made.
    """

    __tablename__ = "phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "sip" or "webrtc"
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    realm: Mapped[str] = mapped_column(String(64))
    password_digest: Mapped[str] = mapped_column(String(200))
    auto_answer: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
