"""Request and response models of ``/api/stats/*`` (the API contract, docs/api.md).

The handlers validate their own input (stats.period, stats.http); these models describe it.
Figures are ``Figures`` (counters and derived ratios, ``null`` where a divisor is zero).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Number = int | float | None


class PeriodQuery(BaseModel):
    """A period in the tenant's local calendar: ``day`` (``date``, default today), ``week``
    (the ISO week of ``date``), ``month`` (``month=YYYY-MM`` or the month of ``date``),
    ``custom`` (``from`` and ``to``, at most 400 days)."""

    model_config = ConfigDict(populate_by_name=True)

    period: Literal["day", "week", "month", "custom"] = "day"
    date: str | None = Field(None, description="YYYY-MM-DD")
    month: str | None = Field(None, description="YYYY-MM")
    first: str | None = Field(None, alias="from", description="YYYY-MM-DD")
    to: str | None = Field(None, description="YYYY-MM-DD")


class AbandonedQuery(PeriodQuery):
    limit: int = Field(1000, ge=1, le=10_000)


class BillingQuery(BaseModel):
    month: str | None = Field(None, description="YYYY-MM (default: this month)")
    format: Literal["json", "csv", "xlsx"] = "json"


class ReceptionistsQuery(PeriodQuery):
    timezone: str = Field("Europe/Berlin", description="IANA time zone of the period")
    billable_pauses: str = Field("wrapup", description="pause reasons billed, comma-separated")


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: str
    first: str = Field(alias="from")
    to: str
    timezone: str
    start: str
    end: str


class TenantOut(BaseModel):
    id: int
    name: str


class SettingsBody(BaseModel):
    """A tenant's thresholds in whole seconds (0..3600); a PUT may send any of them."""

    service_level_seconds: int = Field(20, ge=0, le=3600)
    short_abandon_seconds: int = Field(5, ge=0, le=3600)
    billable_after_seconds: int = Field(15, ge=0, le=3600)
    wrapup_seconds: int = Field(0, ge=0, le=3600)


class Heatmap(BaseModel):
    rows: list[str]
    columns: list[int]
    offered: list[list[int]]
    answered: list[list[int]]


class TrendPoint(BaseModel):
    at: str
    offered: Number
    answered: Number
    abandoned: Number
    service_level: float | None
    asa: float | None


class ReportOut(BaseModel):
    """One tenant's figures for a period (definitions: ``definitions``)."""

    tenant: TenantOut
    period: PeriodOut
    settings: SettingsBody
    totals: dict[str, Number]
    callbacks: dict[str, Number]
    notes: int
    voicemails: dict[str, int]
    queues: dict[str, dict[str, Number]]
    receptionists: dict[str, dict[str, Number]]
    heatmap: Heatmap
    trend: list[TrendPoint]
    definitions: dict[str, str]


class AbandonedCall(BaseModel):
    linkedid: str
    entered_at: str
    caller: str | None
    caller_name: str | None
    did: str | None
    queue: str | None
    queues: list[str]
    wait: float
    short: bool
    position: int | None


class AbandonedOut(BaseModel):
    """The abandoned calls of the period, oldest first."""

    period: PeriodOut
    calls: list[AbandonedCall]


class BillingOut(BaseModel):
    """The month's billing: totals, one line per day, one per receptionist."""

    tenant: TenantOut
    month: str
    settings: dict[str, int]
    totals: dict[str, Number]
    days: list[dict[str, Number | str]]
    receptionists: list[dict[str, Number | str]]


class RebuildOut(BaseModel):
    period: PeriodOut
    calls: int
    seconds: float


class PauseOut(BaseModel):
    billable_seconds: float
    non_billable_seconds: float
    by_reason: dict[str, float]


class ReceptionistOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    answered: int
    answered_per_tenant: dict[str, int]
    pauses: PauseOut


class ReceptionistsOut(BaseModel):
    """Every receptionist over all tenants, with pauses from the PBX's queue_log."""

    period: PeriodOut
    billable_pauses: list[str]
    receptionists: dict[str, ReceptionistOut]
    definitions: dict[str, str]


class Definitions(RootModel[dict[str, str]]):
    """Figure name → what it means (GUIDE §5), in English."""
