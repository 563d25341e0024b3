"""Request and response models of ``/api/callbacks`` (the API contract, docs/api.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CallbackOut(BaseModel):
    """One callback (docs/callbacks.md)."""

    id: int
    tenant: str
    queue: str
    number: str = Field(description="E.164, passed the destination policy")
    language: str
    status: str = Field(description="pending | dialling | done | failed | cancelled")
    stage: str | None = Field(
        description="queued | direct (ringing its assigned receptionist) | ringing | connected"
    )
    priority: int
    position: int | None = Field(description="virtual position in its queue, 1 = next")
    source: str = Field(description="queue | ivr | api")
    requested_at: str | None
    arrival_at: str | None = Field(description="the place it keeps: when the caller joined")
    promised_at: str | None
    due_at: str | None
    expires_at: str | None = Field(
        description="never dialled after this (the tenant's max_age, or the request's own)"
    )
    attempts: int
    requests: int = Field(description="requests merged into this one")
    wait_seconds: float | None
    outcome: str | None = Field(
        description="completed | no_answer | busy | failed | cancelled | expired"
    )
    done_at: str | None
    agent: str | None = Field(description="the receptionist who took it (last attempt)")
    assigned_to: str | None = Field(
        description="offered to this receptionist (queue member name) only, until assigned_until"
    )
    assigned_until: str | None = Field(
        description="then any receptionist may take it (tenant's assign_fallback)"
    )
    note: str | None


class CallbackList(BaseModel):
    callbacks: list[CallbackOut]


class CallbackIn(BaseModel):
    tenant: str = Field(max_length=64)
    queue: str = Field(max_length=80)
    number: str = Field(max_length=40)
    language: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, max_length=2000)
    priority: int = Field(default=0, ge=0, le=100)
    due_at: str | None = Field(default=None, description="ISO 8601 with offset")
    expires_at: str | None = Field(default=None, description="ISO 8601 with offset")


class CallbackCreated(BaseModel):
    id: int
    merged: bool = Field(description="merged into the active request for the same number")


class AttemptOut(BaseModel):
    attempt: int
    agent: str | None
    started_at: str
    answered_at: str | None
    ended_at: str | None
    outcome: str | None
    cause: str | None = Field(description="Asterisk's hangup cause")


class CallbackDetail(CallbackOut):
    """One callback with every dialling attempt."""

    attempt_log: list[AttemptOut]


class OperationIn(BaseModel):
    """What the operation needs: ``priority`` (priority), ``at`` (schedule, ISO 8601 with
    offset), ``note`` (note), ``agent`` (assign); cancel takes nothing."""

    priority: int | None = Field(default=None, ge=0, le=100)
    at: str | None = None
    note: str | None = Field(default=None, max_length=2000)
    agent: str | None = Field(
        default=None, max_length=80, description="assign: queue member name; null unassigns"
    )
