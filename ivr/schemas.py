"""Request and response models of ``/api/ivr/*`` (the API contract, docs/api.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LangQuery(BaseModel):
    lang: str | None = Field(None, max_length=16, description="language of the texts")


class OpeningStatus(BaseModel):
    status: str = Field(description="open | closed | holiday …")
    reason: str | None
    next_opening: str | None
    next_opening_text: str | None


class TenantSummary(OpeningStatus):
    slug: str
    name: str
    languages: list[str]
    dids: list[str]


class TenantList(BaseModel):
    tenants: list[TenantSummary]


class StaffOut(BaseModel):
    id: str
    name: str
    number: str | None
    note: str | None


class QueueOut(BaseModel):
    name: str
    language: str | None
    skill: str | None


class TenantDetail(TenantSummary):
    """What a receptionist needs about a tenant: greeting, staff, queues, opening status."""

    greeting: str
    default_language: str
    timezone: str
    staff: list[StaffOut]
    queues: list[QueueOut]


class DocumentSaved(BaseModel):
    slug: str
    warnings: list[str]


class Reloaded(BaseModel):
    """Slugs per outcome of reading the tenant files again."""

    created: list[str]
    changed: list[str]
    unchanged: list[str]
    deactivated: list[str]
