"""Audit records of voicemail access (listening, retention deletions, erasure).

One function, :func:`record`; the app's wiring :func:`redirect`-s it into the audit log
(``callcenter.audit.record_plain``, done by ``dashboards.wiring``); without that, records go
to the ``callcenter.audit`` logger as JSON. The session is passed so that the audit entry
commits in the caller's transaction (a retention deletion and its record together).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import utcnow

log = logging.getLogger("callcenter.audit")

Sink = Callable[[AsyncSession | None, dict[str, Any]], Awaitable[None]]


async def _log_sink(_session: AsyncSession | None, entry: dict[str, Any]) -> None:
    log.info("%s", json.dumps(entry, sort_keys=True, default=str))


_sinks: list[Sink] = [_log_sink]  # one element: the current sink


def redirect(sink: Sink | None) -> None:
    """Send audit records to ``sink`` (None: back to the log)."""
    _sinks[0] = sink or _log_sink


async def record(
    session: AsyncSession | None,
    action: str,
    *,
    tenant_id: int | None = None,
    user_id: int | None = None,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    entry = {
        "at": utcnow().isoformat(),
        "action": action,
        "tenant_id": tenant_id,
        "user_id": user_id,
        "target": target,
        "detail": dict(detail or {}),
    }
    await _sinks[0](session, entry)
