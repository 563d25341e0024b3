"""Core tables: tenants and their numbers, queues, users and agents, tokens, calls, call events.

Timestamps: ``UTCDateTime`` refuses naive datetimes (a silent local-time guess is how billing
reports end up an hour off), stores UTC and always returns timezone-aware UTC datetimes.

Feature packages (CRM, routing, ...) declare their own tables on the same
:class:`callcenter.db.base.Base` in their own modules; the Alembic migrations are hand-written
and ``tests/integration/test_db_migrations.py`` proves they match these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from callcenter.db.base import Base
from callcenter.state.records import CallRecord, Outcome

ROLES: tuple[str, ...] = ("admin", "supervisor", "receptionist", "tenant")
OUTCOMES: tuple[str, ...] = get_args(Outcome)


class NaiveDatetimeError(ValueError):
    """A datetime without tzinfo was about to be stored."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps in and out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} refused: pass a timezone-aware value "
                "(e.g. datetime.now(UTC))"
            )
        utc = value.astimezone(UTC)
        # SQLite has no timezone type; store naive UTC so text ordering stays chronological.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"database returned {value!r} for a timestamp column")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type() -> TypeEngine[Any]:
    """JSON everywhere, JSONB on PostgreSQL (indexable, compact)."""
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def bigint_pk() -> TypeEngine[int]:
    """BIGINT primary keys on PostgreSQL; SQLite only auto-increments ``INTEGER``."""
    return BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_check(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint: ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Tenant(Base):
    """A client company of the secretariat."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    default_language: Mapped[str] = mapped_column(String(16), default="de")
    languages: Mapped[list[str]] = mapped_column(json_type(), default=lambda: ["de", "en"])
    # ISO country + subdivision for public holidays (python-holidays), e.g. "DE" / "BE".
    region: Mapped[str] = mapped_column(String(8), default="DE")
    state: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Did(Base):
    """A phone number (E.164) that reaches one tenant."""

    __tablename__ = "dids"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))


class Queue(Base):
    """An Asterisk ``app_queue`` queue; ``name`` is the queue name in queues.conf."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str | None] = mapped_column(String(16))
    skill: Mapped[str | None] = mapped_column(String(64))
    strategy: Mapped[str] = mapped_column(String(32), default="rrmemory")
    service_level_seconds: Mapped[int] = mapped_column(Integer, default=20)


class User(Base):
    """Someone who logs in: staff (admin, supervisor, receptionist) or a tenant's own user."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_check("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserTenant(Base):
    """Which tenants a ``tenant``-role user may see (staff roles see all)."""

    __tablename__ = "user_tenants"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Agent(Base):
    """A phone position that queues ring: the member interface and its device state."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    interface: Mapped[str] = mapped_column(String(128), unique=True)  # e.g. PJSIP/anna
    state_interface: Mapped[str | None] = mapped_column(String(128))  # e.g. Custom:anna
    name: Mapped[str] = mapped_column(String(200))


class QueueMember(Base):
    """Static membership of an agent in a queue with its penalty."""

    __tablename__ = "queue_members"

    queue_id: Mapped[int] = mapped_column(
        ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    penalty: Mapped[int] = mapped_column(Integer, default=0)


class ApiToken(Base):
    """A bearer/session token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Call(Base):
    """One finished call (all channels of a linkedid): what controlling counts and bills."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(in_check("outcome", OUTCOMES), name="outcome"),
        Index("ix_calls_tenant_id_entered_at", "tenant_id", "entered_at"),
        Index("ix_calls_entered_at", "entered_at"),
        Index("ix_calls_caller", "caller"),
    )

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="SET NULL"))
    tenant: Mapped[str | None] = mapped_column(String(64))  # slug as the PBX reported it
    did: Mapped[str | None] = mapped_column(String(32))
    caller: Mapped[str | None] = mapped_column(String(32))
    caller_raw: Mapped[str | None] = mapped_column(String(80))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent: Mapped[str | None] = mapped_column(String(128))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hangup_cause: Mapped[str | None] = mapped_column(String(32))
    extra: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)

    def to_record(self) -> CallRecord:
        """The row as the domain value type."""
        return CallRecord(
            linkedid=self.linkedid,
            entered_at=self.entered_at,
            ended_at=self.ended_at,
            outcome=self.outcome,  # type: ignore[arg-type]  # CHECK constraint guarantees it
            tenant=self.tenant,
            did=self.did,
            caller=self.caller,
            caller_raw=self.caller_raw,
            caller_name=self.caller_name,
            language=self.language,
            queue=self.queue,
            agent=self.agent,
            queued_at=self.queued_at,
            answered_at=self.answered_at,
            wait_seconds=self.wait_seconds,
            talk_seconds=self.talk_seconds,
            hangup_cause=self.hangup_cause,
            extra=dict(self.extra or {}),
        )


class CallEvent(Base):
    """Append-only log of what happened during calls (never updated, never deleted)."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)


__all__ = [
    "OUTCOMES",
    "ROLES",
    "Agent",
    "ApiToken",
    "Call",
    "CallEvent",
    "Did",
    "NaiveDatetimeError",
    "Queue",
    "QueueMember",
    "Tenant",
    "UTCDateTime",
    "User",
    "UserTenant",
    "utcnow",
]
