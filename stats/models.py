"""Tables of the statistics: 15-minute rollups and each tenant's counting thresholds.

A rollup row holds the additive :class:`stats.definitions.Counters` of one grain (the
tenant's calls, one queue's legs, one receptionist's answered calls) in one 15-minute
bucket of one tenant (``tenant_key`` 0: calls whose tenant is unknown); a daily row sums a
local day's buckets. Rows are derived data: :mod:`stats.rollups` recomputes a bucket from
the call rows and a day from its buckets, so rebuilding is always safe (ADR 0009).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, in_check

GRAINS: tuple[str, ...] = ("tenant", "queue", "agent")
BUCKET_SECONDS = 900


class _Counters:
    """The additive counters (stats.definitions.Counters) as columns."""

    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_in_sl: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_short: Mapped[int] = mapped_column(Integer, default=0)
    timeout: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    diverted: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)
    voicemail: Mapped[int] = mapped_column(Integer, default=0)
    callback: Mapped[int] = mapped_column(Integer, default=0)
    not_offered: Mapped[int] = mapped_column(Integer, default=0)
    billable: Mapped[int] = mapped_column(Integer, default=0)
    wait_answered: Mapped[float] = mapped_column(Float, default=0.0)
    wait_max: Mapped[float] = mapped_column(Float, default=0.0)
    talk: Mapped[float] = mapped_column(Float, default=0.0)
    handled: Mapped[float] = mapped_column(Float, default=0.0)


class StatsRollup(_Counters, Base):
    """Counters of one (tenant, grain, 15-minute UTC bucket, key)."""

    __tablename__ = "stats_rollups"
    __table_args__ = (CheckConstraint(in_check("grain", GRAINS), name="grain"),)

    tenant_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)


class StatsDaily(_Counters, Base):
    """The same counters per local day of the tenant (sums of its 15-minute rows), so a
    month's queue and receptionist tables read 31 rows per key, not 2,976."""

    __tablename__ = "stats_daily"
    __table_args__ = (CheckConstraint(in_check("grain", GRAINS), name="grain"),)

    tenant_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)


class StatsSettings(Base):
    """A tenant's thresholds (seconds); absent row: the defaults of ``Settings``."""

    __tablename__ = "stats_settings"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=20)
    short_abandon_seconds: Mapped[int] = mapped_column(Integer, default=5)
    billable_after_seconds: Mapped[int] = mapped_column(Integer, default=15)
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=0)
