"""Tables of the routing configuration (revision ``0003_routing``).

The tenant's whole declarative document is stored as its TOML text: the same parser and the
same checks apply whether a configuration comes from a file, the database or (later) the
REST API, and nothing is lost in a translation to columns. The searchable parts (tenant,
numbers, queues) go to the foundation tables ``tenants``, ``dids`` and ``queues``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime, json_type, utcnow


class TenantConfig(Base):
    """The current routing/IVR document of a file-managed tenant."""

    __tablename__ = "ivr_tenant_configs"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(500))  # file it was loaded from
    document: Mapped[str] = mapped_column(Text)  # the TOML text
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 of document
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 on every change
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    warnings: Mapped[list[Any]] = mapped_column(json_type(), default=list)
