"""The receptionist's wanted presence: the database is the truth, app_queue follows it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, json_type, utcnow


class AgentPresence(Base):
    """Whether an agent wants to be logged in and paused; restored after PBX restarts.

    ``paused_queues`` is ``None`` when the pause covers all of the agent's queues, else the
    queue names paused one by one.
    """

    __tablename__ = "agent_presence"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    logged_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    pause_reason: Mapped[str] = mapped_column(String(64), default="", server_default="")
    paused_queues: Mapped[list[str] | None] = mapped_column(json_type())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
