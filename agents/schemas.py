"""Request and response models of ``/api/agents/*`` (the API contract, docs/api.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

INT32_MAX = 2**31 - 1


class AgentOut(BaseModel):
    """A receptionist's position: wanted presence (database) and app_queue's live view."""

    id: int
    name: str
    user_id: int | None
    interface: str
    logged_in: bool
    paused: bool
    pause_reason: str
    live: dict[str, Any] = Field(description="status, queues … as app_queue reports them")


class AgentList(BaseModel):
    agents: list[AgentOut]
    pause_reasons: list[str]


class AgentIn(BaseModel):
    """A new position (admin)."""

    name: str = Field(min_length=1, max_length=200)
    interface: str = Field(min_length=1, max_length=128, description="PJSIP/rec1 …")
    state_interface: str | None = Field(None, max_length=128)
    user_id: int | None = Field(None, ge=1, le=INT32_MAX)


class AgentCreated(BaseModel):
    id: int
    name: str
    interface: str


class QueuesIn(BaseModel):
    """Queue name → penalty (0 first)."""

    queues: dict[str, int]


class OperationIn(BaseModel):
    """``reason`` is required for a pause; ``queue`` narrows pause/unpause to one queue."""

    reason: str | None = Field(None, max_length=80)
    queue: str | None = Field(None, max_length=80)


class ApplyOut(BaseModel):
    """The wanted presence after the operation; 202 when the PBX did not apply it yet."""

    agent_id: int
    logged_in: bool
    paused: bool
    pause_reason: str
    paused_queues: list[str] | None
    applied: bool
    actions: list[str]
    detail: str
