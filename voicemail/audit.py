"""Audit records of voicemail access, in the project's audit log (:mod:`callcenter.audit`).

Listening is a person's action (``voicemail.listen``, with who and which byte range);
retention deletions are the system's (``voicemail.retention``, user ``system``), written in
the deleting transaction so the log and the deletion commit together.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import audit, auth
from callcenter.db.session import Database

log = logging.getLogger(__name__)


async def listened(
    db: Database,
    principal: auth.Principal,
    tenant_id: int,
    voicemail_id: int,
    *,
    byte_range: str | None,
    remote: str | None,
) -> None:
    await audit.record(
        db,
        principal,
        "voicemail.listen",
        target=f"voicemail:{voicemail_id}",
        tenant_id=tenant_id,
        detail={"range": byte_range} if byte_range else {},
        remote=remote,
    )


def system(
    session: AsyncSession, action: str, tenant_id: int | None, detail: dict[str, Any]
) -> None:
    """An entry for what the system did by itself (no user)."""
    session.add(
        audit.AuditEntry(
            user_id=None, username="system", role="system", action=action,
            tenant_id=tenant_id, target="", detail=detail, remote="",
        )
    )  # fmt: skip
