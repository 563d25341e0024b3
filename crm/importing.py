"""Import parsed contacts into a tenant, with a dry-run report of what would change.

For every good row, in file order:

* **merged** – it shares a normalised number or the e-mail (case-insensitive) with an
  earlier row of the same file: folded into that row (numbers, tags, notes united);
* **update** – it matches an existing contact of the tenant the same way: missing fields,
  new numbers and tags are added, existing values are kept (``merge`` rule of
  :func:`crm.duplicates.merged`); if it matches several contacts, the oldest is updated
  and the others are listed as ``duplicates`` (merge them with ``merge(keep, other)``);
* **skip** – it matches an existing contact and would change nothing;
* **create** – otherwise.

Bad rows (from the parser) are reported with line, field and reason; they never stop the
others. ``dry_run`` computes the same report inside the transaction and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from crm import csv_import, vcard
from crm import duplicates as dedupe
from crm import repository as repo
from crm.contact import ContactData

Action = Literal["create", "update", "skip", "merged"]


@dataclass
class ReportRow:
    line: int
    action: Action
    display_name: str
    contact_id: int | None = None
    detail: str = ""
    changes: list[str] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "action": self.action,
            "display_name": self.display_name,
            "contact_id": self.contact_id,
            "detail": self.detail,
            "changes": self.changes,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str
    field: str | None = None


def parse_file(
    text: str, fmt: str, mapping: Mapping[str, str] | None, region: str
) -> tuple[list[tuple[int, ContactData]], list[BadRow]]:
    """Good rows and bad rows of a ``"csv"`` file (with the column ``mapping``) or else a
    vCard file, numbers read in ``region``; raises :class:`crm.csv_import.MappingError`."""
    if fmt == "csv":
        parsed = csv_import.parse(text, mapping, region)
        return parsed.rows, [BadRow(e.line, e.reason, e.field) for e in parsed.errors]
    cards = vcard.parse(text, region)
    return cards.cards, [BadRow(e.line, e.reason) for e in cards.errors]


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[ReportRow] = field(default_factory=list)
    errors: list[BadRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "skip": 0, "merged": 0, "error": len(self.errors)}
        for r in self.rows:
            out[r.action] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "rows": [r.to_dict() for r in self.rows],
            "errors": [{"line": e.line, "field": e.field, "reason": e.reason} for e in self.errors],
        }


@dataclass
class _Plan:
    line: int
    data: ContactData
    existing_id: int | None
    existing: ContactData | None
    report: ReportRow


_COMPARED = (
    "given_name",
    "family_name",
    "organisation",
    "email",
    "numbers",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "language",
    "tags",
    "vip",
    "notes",
    "consent_basis",
    "consent_at",
)


def _changes(before: ContactData, after: ContactData) -> list[str]:
    return [f for f in _COMPARED if getattr(before, f) != getattr(after, f)]


_keys = dedupe.duplicate_keys


async def import_contacts(
    session: AsyncSession,
    tenant_id: int | None,
    rows: Sequence[tuple[int, ContactData]],
    errors: Sequence[BadRow] = (),
    *,
    dry_run: bool = True,
) -> ImportReport:
    """Plan (and unless ``dry_run``, apply) the import; see the module doc."""
    report = ImportReport(dry_run=dry_run, errors=list(errors))
    plans: list[_Plan] = []
    by_key: dict[str, _Plan] = {}
    known = await dedupe.duplicate_index(session, tenant_id, [d for _, d in rows])
    for line, incoming in rows:
        data = incoming
        earlier = next((by_key[k] for k in _keys(data) if k in by_key), None)
        if earlier is not None:
            earlier.data = dedupe.merged(earlier.data, data)
            for k in _keys(earlier.data):
                by_key.setdefault(k, earlier)
            report.rows.append(
                ReportRow(line, "merged", data.display_name, earlier.existing_id,
                          detail=f"same number or e-mail as line {earlier.line}")
            )  # fmt: skip
            continue
        dup_ids = sorted({cid for k in _keys(data) for cid in known.get(k, ())})
        existing = None
        if dup_ids:
            contact = await repo.get_contact(session, dup_ids[0], tenant_id)
            existing = await repo.contact_data(session, contact)
            data = dedupe.merged(existing, data)
        row = ReportRow(line, "create", data.display_name, dup_ids[0] if dup_ids else None)
        row.duplicates = dup_ids[1:]
        plan = _Plan(line, data, row.contact_id, existing, row)
        plans.append(plan)
        report.rows.append(row)
        for k in _keys(data):
            by_key.setdefault(k, plan)
    new = [p for p in plans if p.existing is None]
    if new and not dry_run:
        created = await repo.create_contacts(session, tenant_id, [p.data for p in new])
        for p, contact in zip(new, created, strict=True):
            p.report.contact_id = contact.id
    for plan in plans:
        row = plan.report
        if plan.existing is None:
            row.action = "create"
            continue
        # keep the stored source: an import adding a number does not make it "imported"
        final = replace(plan.data, source=plan.existing.source)
        row.changes = _changes(plan.existing, final)
        row.action = "update" if row.changes else "skip"
        if row.duplicates:
            row.detail = f"also matches contacts {row.duplicates}; merge them"
        if row.changes and not dry_run:
            assert plan.existing_id is not None
            contact = await repo.get_contact(session, plan.existing_id, tenant_id)
            await repo.update_contact(session, contact, final)
    report.rows.sort(key=lambda r: r.line)
    return report
