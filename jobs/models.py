"""The ``jobs`` table.

Life of a row: ``queued`` (``run_at`` in the future means scheduled) → ``running`` (claimed:
``locked_by`` a worker, ``locked_until`` its lease, renewed by the heartbeat) → ``done`` or
``failed``; a failed attempt with attempts left goes back to ``queued`` with a later
``run_at``. ``key`` is a queueing lock: at most one queued or running job holds a given key
(it is cleared when the job ends), so "transcribe voicemail 7" cannot be queued twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, in_check, json_type, utcnow

STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """One unit of deferred work."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(in_check("status", STATUSES), name="status"),
        Index("ix_jobs_due", "status", "queue", "run_at"),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    queue: Mapped[str] = mapped_column(String(50), default="default")
    payload: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
