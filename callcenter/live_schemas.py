"""Response model of ``GET /api/live`` (the API contract, docs/api.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LiveSnapshot(BaseModel):
    """The live picture as the dashboards see it (tenant users: their tenants' calls and
    queues only). Features add sections of their own (``lines`` …)."""

    model_config = ConfigDict(extra="allow")

    at: float = Field(description="seconds since the epoch the waits are computed at")
    calls: dict[str, dict[str, Any]] = Field(description="by linkedid")
    queues: dict[str, dict[str, Any]] = Field(description="by queue name")
    agents: dict[str, dict[str, Any]] = Field(description="by interface")
    channels: int
    connected: bool = Field(description="the app's AMI connection is up")
    pending_records: int = Field(description="finished calls not stored yet")
