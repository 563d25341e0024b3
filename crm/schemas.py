"""Request and response models of ``/api/crm/*`` (the API contract, docs/api.md).

The handlers validate the bodies themselves (``crm.contact.contact_from_mapping``,
``crm.notes.note_from_mapping`` …, with a 400 naming the field); these models describe
what they accept and answer. Ids are 64-bit, tenant ids 32-bit integers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Id = int  # (documented bounds below where a body carries one)


class NumberIn(BaseModel):
    type: str | None = Field(None, description="mobile | work | home | fax | other")
    number: str = Field(
        max_length=64,
        pattern=r"^\+?[0-9][0-9 ()/-]{4,30}$",
        description="as written: '030 1234567', '+49 …'",
    )


class ContactIn(BaseModel):
    """A contact as written by a person; every text is trimmed, CR/LF refused in one-line
    fields. ``display_name`` may be left out when a given or family name is there."""

    display_name: str | None = Field(None, min_length=1, max_length=200)
    given_name: str | None = Field(None, max_length=100)
    family_name: str | None = Field(None, max_length=100)
    organisation: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, json_schema_extra={"format": "email"})
    numbers: list[NumberIn] = []
    street: str | None = Field(None, max_length=200)
    postal_code: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    country: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=16)
    tags: list[str] | str = []
    vip: bool = False
    notes: str | None = Field(None, max_length=10_000)
    consent_basis: str | None = Field(None, max_length=32)
    consent_at: str | None = Field(None, description="ISO 8601 with a time zone")
    source: str | None = Field(None, max_length=64)


class NumberOut(BaseModel):
    type: str
    number: str
    e164: str


class ContactOut(BaseModel):
    """A stored contact (``tenant_id`` null and ``shared`` true: the secretariat's)."""

    id: int
    tenant_id: int | None
    organisation_id: int | None
    shared: bool
    created_at: str
    updated_at: str
    display_name: str
    given_name: str
    family_name: str
    organisation: str | None
    email: str | None
    numbers: list[NumberOut]
    street: str
    postal_code: str
    city: str
    region: str
    country: str
    language: str | None
    tags: list[str]
    vip: bool
    notes: str
    consent_basis: str | None
    consent_at: str | None
    source: str


class ContactCreated(ContactOut):
    """The new contact and the ids of the tenant's contacts sharing a number or the e-mail."""

    duplicates: list[int]


class ContactList(BaseModel):
    items: list[ContactOut]
    limit: int
    offset: int


class ContactQuery(BaseModel):
    q: str | None = Field(None, description="name, organisation, e-mail or number")
    tag: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class Deleted(BaseModel):
    deleted: int


class MergeIn(BaseModel):
    """The contact folded into the one in the path (its numbers, notes and calls move)."""

    other_id: int = Field(ge=1, le=INT64_MAX)


class TimelineEntryOut(BaseModel):
    kind: str = Field(description="call | note | voicemail …")
    at: str
    id: int
    data: dict[str, Any]


class TimelineOut(BaseModel):
    items: list[TimelineEntryOut]


class LimitQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)


class CallLinkOut(BaseModel):
    method: str
    linked_by: int | None


class CallOut(BaseModel):
    id: int
    linkedid: str
    did: str | None
    caller: str | None
    caller_name: str | None
    queue: str | None
    agent: str | None
    outcome: str
    entered_at: str
    answered_at: str | None
    ended_at: str
    wait_seconds: float | None
    talk_seconds: float | None
    link: CallLinkOut | None


class NoteOut(BaseModel):
    """A telephone note (and its e-mail's delivery state)."""

    id: int
    tenant_id: int
    contact_id: int | None
    call_id: int | None
    recipient_name: str
    recipient_email: str
    caller_name: str
    caller_number: str
    caller_e164: str | None
    subject: str
    message: str
    callback_wanted: bool
    urgency: str
    language: str
    taken_by: int | None
    taken_at: str
    delivery_status: str = Field(description="pending | sent | failed")
    delivered_at: str | None
    delivery_error: str | None


class PrivacyExport(BaseModel):
    """Everything stored about the contact, as this tenant sees it; each other store
    (``voicemails``, ``callback_requests``, ``pbx_files`` …) adds its own key."""

    model_config = {"extra": "allow"}

    exported_at: str
    contact: dict[str, Any]
    notes: list[NoteOut]
    calls: list[CallOut]
    call_events: list[dict[str, Any]]
    queue_log: list[dict[str, Any]]
    webhook_deliveries: list[dict[str, Any]]


class ErasureOut(BaseModel):
    """What the erasure did, as counts per store (no personal data)."""

    erased: int
    counts: dict[str, int]


class OrganisationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    switchboard: str | None = Field(None, max_length=64, description="'030 12345-0'")
    number_prefix: str | None = Field(None, max_length=32)
    website: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=10_000)


class OrganisationOut(BaseModel):
    id: int
    tenant_id: int | None
    name: str
    switchboard: str | None
    switchboard_e164: str | None
    number_prefix: str | None
    website: str | None
    notes: str


class OrganisationList(BaseModel):
    items: list[OrganisationOut]


class PageQuery(BaseModel):
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class NoteIn(BaseModel):
    """A telephone note; it is e-mailed to the recipient (retried until sent)."""

    recipient_email: str = Field(
        max_length=254, description="one address", json_schema_extra={"format": "email"}
    )
    subject: str = Field(min_length=1, max_length=300)
    recipient_name: str | None = Field(None, max_length=200)
    message: str | None = Field(None, max_length=10_000)
    caller_name: str | None = Field(None, max_length=200)
    caller_number: str | None = Field(None, max_length=64)
    callback_wanted: bool = False
    urgency: Literal["low", "normal", "high", "urgent"] = "normal"
    contact_id: int | None = Field(None, ge=1, le=INT64_MAX)
    call_id: int | None = Field(None, ge=1, le=INT64_MAX)


class NoteList(BaseModel):
    items: list[NoteOut]


class NoteQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    contact_id: int | None = Field(None, ge=0, le=2**62)


class LinkIn(BaseModel):
    """``contact_id`` of an existing contact, or ``contact``: a new one to create."""

    contact_id: int | None = Field(None, ge=1, le=INT64_MAX)
    contact: ContactIn | None = None


class LinkOut(BaseModel):
    call_id: int
    contact_id: int


class ImportQuery(BaseModel):
    format: Literal["csv", "vcard"] = "csv"
    dry_run: bool = Field(True, description="report only (the default); false to import")
    mapping: str | None = Field(None, description="CSV only: JSON object field → column")
    charset: str | None = Field(None, description="default UTF-8, else Windows-1252")


class ImportRow(BaseModel):
    line: int
    action: str = Field(description="create | update | skip | merged")
    display_name: str
    contact_id: int | None
    detail: str
    changes: list[str]
    duplicates: list[int]


class ImportError_(BaseModel):
    line: int
    field: str | None
    reason: str


class ImportReport(BaseModel):
    """What the import did (or, in a dry run, would do), line by line."""

    dry_run: bool
    counts: dict[str, int]
    rows: list[ImportRow]
    errors: list[ImportError_]
    encoding: str


class ExportQuery(BaseModel):
    format: Literal["csv", "vcard"] = "csv"


class LookupQuery(BaseModel):
    caller: str | None = Field(None, description="the number as delivered by the PBX")


class LookupOut(BaseModel):
    """The screen pop's verdict for a caller id."""

    status: str = Field(description="contact | organisation | unknown | anonymous | invalid")
    caller_raw: str
    e164: str | None
    contact_id: int | None
    display_name: str | None
    organisation_id: int | None
    organisation_name: str | None
    vip: bool
    language: str | None
    tags: list[str]
    shared: bool
    ambiguous: bool
    via: str | None
    reason: str | None
    label: str


class WebhookIn(BaseModel):
    """An https endpoint (public addresses only); ``events`` empty means every event."""

    url: str = Field(max_length=1000)
    events: list[str] = []
    description: str | None = Field(None, max_length=200)


class WebhookOut(BaseModel):
    id: int
    tenant_id: int
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: str


class WebhookCreated(WebhookOut):
    """The endpoint with its signing secret, shown this once."""

    secret: str


class WebhookList(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event_id: str
    event: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    finished_at: str | None
    log: list[AttemptOut]


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


class DeliveryQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)
    endpoint_id: int | None = Field(None, ge=0, le=2**62)
