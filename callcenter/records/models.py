"""Tables for Asterisk's own records (docs/decisions/0004): ``pbx_queue_log`` holds every
``queue_log`` line (column names as Asterisk's realtime queue_log table), and
``pbx_record_cursors`` how far each PBX's file has been read and reconciled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, bigint_pk, utcnow


class QueueLogRow(Base):
    __tablename__ = "pbx_queue_log"
    __table_args__ = (
        UniqueConstraint("pbx", "line_hash", name="uq_pbx_queue_log_line"),
        Index("ix_pbx_queue_log_callid", "callid"),
        Index("ix_pbx_queue_log_event_time", "event", "time"),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    line_hash: Mapped[str] = mapped_column(String(40))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    callid: Mapped[str] = mapped_column(String(64))
    queuename: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    data1: Mapped[str] = mapped_column(String(255), default="")
    data2: Mapped[str] = mapped_column(String(255), default="")
    data3: Mapped[str] = mapped_column(String(255), default="")
    data4: Mapped[str] = mapped_column(String(255), default="")
    data5: Mapped[str] = mapped_column(String(255), default="")


class RecordCursor(Base):
    __tablename__ = "pbx_record_cursors"

    pbx: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    byte_offset: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    reconciled_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
