"""Request and response models of ``POST /api/calls/{linkedid}/{action}`` (the API
contract, docs/api.md). Actions: pickup, unpark, hold, retrieve, transfer,
attended-transfer, attended-complete, attended-cancel, park, hangup, voicemail, move."""

from __future__ import annotations

from pydantic import BaseModel, Field

INT32_MAX = 2**31 - 1


class ActionIn(BaseModel):
    """A transfer names exactly one target: ``staff`` (an id from the tenant file),
    ``queue`` (move, transfer) or ``number`` (passes the tenant's destination policy;
    typed numbers are for supervisors by default). ``agent_id``: the position a pickup or
    unpark rings (supervisors; default the user's own)."""

    staff: str | None = Field(None, max_length=80)
    queue: str | None = Field(None, max_length=80)
    number: str | None = Field(None, max_length=40)
    agent_id: int | None = Field(None, ge=1, le=INT32_MAX)


class ActionOut(BaseModel):
    """What was done to the call, and its state before."""

    linkedid: str
    action: str
    was: str | None
    target: str | None = Field(None, description="transfers and moves: whom it went to")
    kind: str | None = Field(None, description="staff | queue | number")
