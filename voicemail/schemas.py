"""Request and response models of ``/api/voicemail/*`` (the API contract, docs/api.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

INT32_MAX = 2**31 - 1


class MessageOut(BaseModel):
    """A voicemail message (no audio, no word timings)."""

    id: int
    tenant_id: int
    mailbox: str
    status: str = Field(description="recording | stored | empty | lost")
    caller_e164: str | None
    caller_name: str | None
    contact_id: int | None
    language: str
    call_linkedid: str | None
    duration_seconds: float | None
    sample_rate: int | None
    sha256: str | None = Field(description="SHA-256 of the stored audio")
    created_at: str
    recorded_at: str | None
    transcript_status: str = Field(description="pending | done | failed | none")
    transcript: str | None
    transcript_error: str | None = Field(description='why it is not transcribed ("failed")')
    transcript_model: str | None
    transcript_rtf: float | None = Field(description="real-time factor of the transcription")
    emailed_at: str | None
    handled_at: str | None
    handled_by: int | None
    assigned_to: int | None
    callback_id: int | None


class WordOut(BaseModel):
    word: str
    start: float
    end: float
    conf: float


class MessageDetailOut(MessageOut):
    """A message with its recognised words (seconds from the start, confidence 0..1)."""

    words: list[WordOut]


class MessageListOut(BaseModel):
    messages: list[MessageOut]


class ListQuery(BaseModel):
    status: Literal["open", "handled", "all"] = "open"
    assigned_to: int | None = Field(default=None, ge=1, le=INT32_MAX)
    limit: int = Field(default=100, ge=1, le=1000)


class HandledIn(BaseModel):
    handled: bool = True


class AssignIn(BaseModel):
    user_id: int | None = Field(ge=1, le=INT32_MAX, description="a receptionist; null: nobody")


class ContactIn(BaseModel):
    contact_id: int | None = Field(ge=1, description="a CRM contact of the tenant; null: unlink")


class CallbackIn(BaseModel):
    queue: str | None = Field(
        default=None, max_length=80, description="default: the tenant's first queue"
    )


class CallbackRef(BaseModel):
    id: int
    status: str | None


class CallbackOut(MessageOut):
    callback: CallbackRef


class MailboxIn(BaseModel):
    recipients: list[str] = Field(default_factory=list, description="e-mail addresses")
    greetings: dict[str, str] = Field(
        default_factory=dict, description='language -> media, e.g. {"de": "sound:vm-intro"}'
    )
    max_seconds: int = Field(default=180, ge=5, le=3600)
    silence_seconds: int = Field(default=6, ge=0, le=60)
    review: bool = False
    staff_id: str | None = Field(default=None, max_length=64)
    retention_days: int | None = Field(default=None, ge=1, le=3650)


class MailboxOut(BaseModel):
    mailbox: str
    recipients: list[str]
    greetings: dict[str, str]
    max_seconds: int
    silence_seconds: int
    review: bool
    staff_id: str | None
    retention_days: int | None
