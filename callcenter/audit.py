"""Audit log of sensitive actions: who listened in, exported, erased or reconfigured what.

Rows are only ever appended (``audit_log``); admins read them through ``GET /api/audit``
(newest first, ``?action=`` filters by one action name, ``?limit=`` 1-500, ``?before=`` an
id for paging). Any feature records an entry with :func:`record` right after the action
succeeded, naming the action with a dotted verb (``call.listen``, ``crm.export``,
``agent.logout``, ``tenant.document``). The username is copied into the row so that the
entry still says who it was after the user is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from callcenter import auth
from callcenter.contract import described
from callcenter.db.base import Base
from callcenter.db.models import User, UTCDateTime, bigint_pk, json_type, utcnow
from callcenter.db.session import DATABASE, Database

ACTION_MAX = 64


class AuditEntry(Base):
    """One sensitive action, as it happened."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(bigint_pk(), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(ACTION_MAX), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    remote: Mapped[str] = mapped_column(String(64), default="")


async def record(
    database: Database,
    principal: auth.Principal,
    action: str,
    *,
    target: str = "",
    tenant_id: int | None = None,
    detail: dict[str, Any] | None = None,
    remote: str | None = None,
) -> int:
    """Append one entry; returns its id."""
    entry = AuditEntry(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        action=action[:ACTION_MAX],
        tenant_id=tenant_id,
        target=target[:200],
        detail=detail or {},
        remote=(remote or "")[:64],
    )
    async with database.session() as session:
        session.add(entry)
        await session.flush()
        return entry.id


async def record_plain(
    database: Database, session: AsyncSession | None, entry: Mapping[str, Any]
) -> None:
    """Write an entry given as ``{action, user_id, tenant_id, target, detail}`` (the shape
    of feature-local audit hooks such as ``voicemail.audit``), in ``session`` when given so
    it commits with the action; the user's name and role are looked up."""

    async def write(s: AsyncSession) -> None:
        user_id = entry.get("user_id")
        who = None
        if user_id is not None:
            who = (
                await s.execute(select(User.username, User.role).where(User.id == user_id))
            ).one_or_none()
        s.add(
            AuditEntry(
                user_id=user_id if who is not None else None,
                username=who[0] if who is not None else "(system)",
                role=who[1] if who is not None else "",
                action=str(entry.get("action", ""))[:ACTION_MAX],
                tenant_id=entry.get("tenant_id"),
                target=str(entry.get("target") or "")[:200],
                detail=dict(entry.get("detail") or {}),
            )
        )

    if session is not None:
        await write(session)
        return
    async with database.session() as own:
        await write(own)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "user_id": entry.user_id,
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "tenant_id": entry.tenant_id,
        "target": entry.target,
        "detail": entry.detail,
        "remote": entry.remote,
    }


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise auth.json_error(
            web.HTTPBadRequest, "invalid_request", f"{name}: an integer {lo}-{hi} required"
        )
    return int(raw)


async def entries(
    database: Database, *, limit: int = 100, action: str | None = None, before: int | None = None
) -> list[AuditEntry]:
    """Newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    async with database.session() as session:
        return list((await session.scalars(stmt)).all())


class AuditEntryOut(BaseModel):
    id: int
    at: str
    user_id: int | None
    username: str
    role: str
    action: str
    tenant_id: int | None
    target: str
    detail: dict[str, Any]
    remote: str


class AuditListOut(BaseModel):
    """Newest first; page with ``?before=<smallest id seen>``."""

    items: list[AuditEntryOut]


class AuditQuery(BaseModel):
    action: str | None = None
    limit: int = 100
    before: int | None = None


@described(
    "The audit log (admin): listening in, exports, erasure, configuration changes",
    query=AuditQuery,
    responses={200: AuditListOut},
    tags=("audit",),
)
async def list_entries(request: web.Request) -> web.Response:
    """``GET /api/audit`` (admin)."""
    auth.require_role(request, auth.ADMIN)
    limit = _query_int(request, "limit", 100, 1, 500)
    before = _query_int(request, "before", 0, 0, 2**62) or None
    rows = await entries(
        request.app[DATABASE], limit=limit, action=request.query.get("action"), before=before
    )
    return web.json_response({"items": [entry_json(e) for e in rows]})


def setup(app: web.Application) -> None:
    """Add ``GET /api/audit``; needs ``callcenter.auth.setup`` first (``app[DATABASE]``)."""
    app.router.add_get("/api/audit", list_entries)
