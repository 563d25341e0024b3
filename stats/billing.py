"""Monthly billing export per tenant, the way answering services bill (GUIDE §8).

A tenant is billed per answered call once the talk reached ``billable_after_seconds``
(e.g. 15 s), and for handled minutes by the second (talk, hold and wrap-up/note writing),
plus callbacks, voicemails and telephone notes. The same :class:`Billing` value is rendered
as JSON, CSV and XLSX; the XLSX is written with xlsxwriter, which blocks for a noticeable
time on big sheets, so :func:`xlsx_bytes_async` runs it in an executor.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import xlsxwriter
from sqlalchemy import column, select, table

from callcenter.db.models import UTCDateTime
from callcenter.db.session import Database
from callcenter.spreadsheets import safe_cell
from stats.definitions import Counters
from stats.period import Period
from stats.reports import by_key, callback_counts, daily, tenant_zone
from stats.rollups import settings_for

DAY_COLUMNS = (
    ("date", "Date"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("billable", "Billable calls"),
    ("handled_seconds", "Handled seconds"),
    ("handled_minutes", "Handled minutes"),
    ("abandoned", "Abandoned"),
    ("voicemails", "Voicemails"),
    ("callbacks", "Callbacks"),
    ("notes", "Notes"),
)
AGENT_COLUMNS = (
    ("receptionist", "Receptionist"),
    ("answered", "Answered"),
    ("billable", "Billable calls"),
    ("handled_seconds", "Handled seconds"),
    ("handled_minutes", "Handled minutes"),
)


@dataclass(slots=True)
class Billing:
    tenant_id: int
    tenant_name: str
    month: str  # YYYY-MM
    settings: dict[str, int]
    days: list[dict[str, Any]] = field(default_factory=list)
    receptionists: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": {"id": self.tenant_id, "name": self.tenant_name},
            "month": self.month,
            "settings": self.settings,
            "totals": self.totals,
            "days": self.days,
            "receptionists": self.receptionists,
        }


_DAY = ("offered", "answered", "billable", "handled", "abandoned", "voicemail")


def _line(c: Counters) -> dict[str, Any]:
    seconds = round(c.handled)
    return {
        "offered": c.offered,
        "answered": c.answered,
        "billable": c.billable,
        "handled_seconds": seconds,
        "handled_minutes": round(c.handled / 60.0, 2),
        "abandoned": c.abandoned,
        "voicemails": c.voicemail,
    }


async def _per_day(
    db: Database, name: str, at_column: str, tenant_id: int, period: Period
) -> dict[date, int]:
    """Rows of another feature's table (read by name) per local day of the period."""
    t = table(name, column("tenant_id"), column(at_column, UTCDateTime))
    at = t.c[at_column]
    async with db.session() as session:
        rows = await session.execute(
            select(at).where(t.c.tenant_id == tenant_id, at >= period.start, at < period.end)
        )
        out: dict[date, int] = {}
        for (value,) in rows:
            local = value.astimezone(period.tz).date()
            out[local] = out.get(local, 0) + 1
    return out


async def monthly_billing(db: Database, tenant_id: int, period: Period) -> Billing:
    """The billing of one tenant for one (month) period, per day and per receptionist."""
    async with db.session() as session:
        name, _ = await tenant_zone(session, tenant_id)
        settings = await settings_for(session, tenant_id)
        rows = await daily(session, tenant_id, period, _DAY)
        agents = await by_key(session, tenant_id, "agent", period)
        callbacks = await callback_counts(session, tenant_id, period)
    notes = await _per_day(db, "crm_notes", "taken_at", tenant_id, period)
    cbs = await _per_day(db, "callback_requests", "requested_at", tenant_id, period)
    per_day = {
        day: Counters.from_mapping(dict(zip(_DAY, values, strict=True)))
        for day, values in rows.items()
    }
    total = Counters()
    days = []
    for n in range(period.days):
        day = date.fromordinal(period.first.toordinal() + n)
        c = per_day.get(day, Counters())
        total.add(c)
        days.append(
            {
                "date": day.isoformat(),
                **_line(c),
                "callbacks": cbs.get(day, 0),
                "notes": notes.get(day, 0),
            }
        )
    receptionists = [{"receptionist": k, **_line(c)} for k, c in sorted(agents.items())]
    totals = {**_line(total), "callbacks": callbacks["requested"], "notes": sum(notes.values())}
    return Billing(
        tenant_id=tenant_id,
        tenant_name=name,
        month=period.first.strftime("%Y-%m"),
        settings={
            "billable_after_seconds": settings.billable_after_seconds,
            "wrapup_seconds": settings.wrapup_seconds,
        },
        days=days,
        receptionists=receptionists,
        totals=totals,
    )


def to_csv(billing: Billing) -> str:
    """Per-day lines, a total line, then the receptionists (``;``-free, RFC 4180)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([label for _, label in DAY_COLUMNS])
    for row in billing.days:
        w.writerow([row[k] for k, _ in DAY_COLUMNS])
    w.writerow(["total", *(billing.totals[k] for k, _ in DAY_COLUMNS[1:])])
    w.writerow([])
    w.writerow([label for _, label in AGENT_COLUMNS])
    for row in billing.receptionists:
        w.writerow([safe_cell(row["receptionist"]), *(row[k] for k, _ in AGENT_COLUMNS[1:])])
    return buf.getvalue()


def to_xlsx(billing: Billing) -> bytes:
    """Workbook with sheets Days (with a SUM total row) and Receptionists. Blocking."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    bold = wb.add_format({"bold": True})
    days = wb.add_worksheet("Days")
    days.write_string(0, 0, safe_cell(f"{billing.tenant_name} {billing.month}"), bold)
    for col, (_, label) in enumerate(DAY_COLUMNS):
        days.write_string(1, col, label, bold)
    first = 2
    for r, row in enumerate(billing.days, start=first):
        days.write_string(r, 0, row["date"])
        for col, (key, _) in enumerate(DAY_COLUMNS[1:], start=1):
            days.write_number(r, col, row[key])
    last = first + len(billing.days) - 1
    total_row = last + 1
    days.write_string(total_row, 0, "total", bold)
    for col, (key, _) in enumerate(DAY_COLUMNS[1:], start=1):
        letter = xlsxwriter.utility.xl_col_to_name(col)
        # A real formula (the sheet stays checkable) with its cached value for readers.
        days.write_formula(
            total_row,
            col,
            f"=SUM({letter}{first + 1}:{letter}{last + 1})",
            bold,
            billing.totals[key],
        )
    agents = wb.add_worksheet("Receptionists")
    for col, (_, label) in enumerate(AGENT_COLUMNS):
        agents.write_string(0, col, label, bold)
    for r, row in enumerate(billing.receptionists, start=1):
        agents.write_string(r, 0, safe_cell(row["receptionist"]))
        for col, (key, _) in enumerate(AGENT_COLUMNS[1:], start=1):
            agents.write_number(r, col, row[key])
    wb.close()
    return buf.getvalue()


async def xlsx_bytes_async(billing: Billing) -> bytes:
    """:func:`to_xlsx` off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, to_xlsx, billing)
