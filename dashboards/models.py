"""The web application's own table: each user's interface preferences (language)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, utcnow


class UserPreference(Base):
    """A user's chosen UI language (``de``/``en``); without a row the browser's decides."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
