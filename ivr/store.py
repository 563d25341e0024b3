"""Tenant routing configuration in the database: save validated documents, load them back.

Only validated :class:`LoadedTenant` values are saved, in one transaction with the rows of
``tenants``, ``dids`` and ``queues``, so the database never holds a half-applied change.
A tenant whose file disappeared is deactivated and its numbers are released; its queues
stay (statistics refer to them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Did as DidRow
from callcenter.db.models import Queue as QueueRow
from callcenter.db.models import Tenant as TenantRow
from ivr.errors import ConfigFault, ConfigFaults
from ivr.loader import LoadedTenant, load_tenant_text
from ivr.models import TenantConfig
from ivr.prompts import PromptSources
from ivr.tenancy import Tenant


@dataclass(slots=True)
class SaveReport:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def checksum(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


async def save_tenants(
    session: AsyncSession, loaded: Sequence[LoadedTenant], *, deactivate_missing: bool = True
) -> SaveReport:
    """Upsert every tenant with its numbers, queues and document (caller commits).

    Raises :class:`ConfigFaults` (nothing written by the caller's commit) when a number or
    queue already belongs to another tenant in the database.
    """
    report = SaveReport()
    faults: list[ConfigFault] = []
    for item in loaded:
        row = await _tenant_row(session, item.tenant)
        faults += await _sync_dids(session, row, item.tenant)
        faults += await _sync_queues(session, row, item.tenant)
        config = await session.get(TenantConfig, row.id)
        digest = checksum(item.document)
        warnings = [str(w) for w in item.warnings]
        if config is None:
            session.add(
                TenantConfig(
                    tenant_id=row.id,
                    source=item.tenant.source,
                    document=item.document,
                    checksum=digest,
                    version=1,
                    warnings=warnings,
                )
            )
            report.created.append(item.tenant.slug)
        elif config.checksum != digest:
            config.document, config.checksum = item.document, digest
            config.source, config.warnings = item.tenant.source, warnings
            config.version += 1
            report.changed.append(item.tenant.slug)
        else:
            report.unchanged.append(item.tenant.slug)
    if faults:
        raise ConfigFaults(faults)
    if deactivate_missing:
        report.deactivated = await _deactivate_missing(session, {i.tenant.slug for i in loaded})
    await session.flush()
    return report


async def _tenant_row(session: AsyncSession, tenant: Tenant) -> TenantRow:
    row = (
        await session.execute(select(TenantRow).where(TenantRow.slug == tenant.slug))
    ).scalar_one_or_none()
    if row is None:
        row = TenantRow(slug=tenant.slug)
        session.add(row)
    row.name = tenant.name
    row.timezone = tenant.timezone
    row.default_language = tenant.default_language
    row.languages = list(tenant.languages)
    row.region = tenant.holidays.country if tenant.holidays else "DE"
    row.state = tenant.holidays.subdiv if tenant.holidays else None
    row.active = True
    await session.flush()
    return row


async def _sync_dids(session: AsyncSession, row: TenantRow, tenant: Tenant) -> list[ConfigFault]:
    faults: list[ConfigFault] = []
    wanted = {d.number: d for d in tenant.dids}
    existing = (
        (await session.execute(select(DidRow).where(DidRow.number.in_(list(wanted)))))
        .scalars()
        .all()
    )
    taken = {d.number: d for d in existing}
    for i, did in enumerate(tenant.dids):
        current = taken.get(did.number)
        label = f"queue {did.queue}" if did.queue else f"IVR {did.entry or tenant.flow.entry}"
        if did.language:
            label += f" ({did.language})"
        if current is None:
            session.add(DidRow(tenant_id=row.id, number=did.number, label=label))
        elif current.tenant_id != row.id:
            owner = await session.get(TenantRow, current.tenant_id)
            faults.append(
                ConfigFault(
                    tenant.source,
                    f"dids.{i}.number",
                    f"{did.number} belongs to tenant "
                    f"{owner.slug if owner else current.tenant_id!r} "
                    "in the database",
                )
            )
        else:
            current.label = label
    await session.execute(
        delete(DidRow).where(DidRow.tenant_id == row.id, DidRow.number.not_in(list(wanted) or [""]))
    )
    return faults


async def _sync_queues(session: AsyncSession, row: TenantRow, tenant: Tenant) -> list[ConfigFault]:
    faults: list[ConfigFault] = []
    for i, rule in enumerate(tenant.routing.queues):
        queue = (
            await session.execute(select(QueueRow).where(QueueRow.name == rule.name))
        ).scalar_one_or_none()
        if queue is None:
            session.add(
                QueueRow(name=rule.name, tenant_id=row.id, language=rule.language, skill=rule.skill)
            )
        elif queue.tenant_id not in (None, row.id):
            faults.append(
                ConfigFault(
                    tenant.source,
                    f"routing.queues.{i}.name",
                    f"queue {rule.name!r} belongs to another tenant",
                )
            )
        else:
            queue.tenant_id, queue.language, queue.skill = row.id, rule.language, rule.skill
    return faults


async def _deactivate_missing(session: AsyncSession, keep: set[str]) -> list[str]:
    rows = (
        (
            await session.execute(
                select(TenantRow)
                .join(TenantConfig, TenantConfig.tenant_id == TenantRow.id)
                .where(TenantRow.active.is_(True))
            )
        )
        .scalars()
        .all()
    )
    gone = [r for r in rows if r.slug not in keep]
    for r in gone:
        r.active = False
        await session.execute(delete(DidRow).where(DidRow.tenant_id == r.id))
    return sorted(r.slug for r in gone)


async def load_tenants(session: AsyncSession, sources: PromptSources) -> list[LoadedTenant]:
    """Every active tenant's stored document, parsed and checked again.

    Checked again because prompts live on disk: a deleted recording shows up here as a
    fault instead of as English in the middle of a German menu.
    """
    rows = (
        await session.execute(
            select(TenantConfig, TenantRow.slug)
            .join(TenantRow, TenantRow.id == TenantConfig.tenant_id)
            .where(TenantRow.active.is_(True))
            .order_by(TenantRow.slug)
        )
    ).all()
    loaded: list[LoadedTenant] = []
    faults: list[ConfigFault] = []
    for config, _slug in rows:
        try:
            loaded.append(load_tenant_text(config.document, sources, config.source))
        except ConfigFaults as exc:
            faults.extend(exc.faults)
    if faults:
        raise ConfigFaults(faults)
    return loaded
