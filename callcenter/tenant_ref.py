"""How the API names a tenant: by its **slug** (``/api/crm/tenants/acme/contacts``).

The slug is the public name: the tenant files, the IVR, the PBX's channel variables, the
callback list and the live view all use it. Every route under ``…/tenants/{tenant}/…``
takes it; the numeric id the CRM, statistics and voicemail routes used to take is still
accepted there (old clients), and a slug is never all digits, so the two never clash.
The auth middleware (:func:`callcenter.auth.tenant_middleware`) resolves the path segment
after the login check: 404 ``{"error": "not_found", "field": "tenant"}`` for a tenant
that does not exist or that the caller may not see (the same answer: existence does not
leak), and sets ``match_info["tenant_id"]`` (the id, as text) and ``match_info["slug"]``
for the handler. See docs/api.md (tenants).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from callcenter.db.models import Tenant
from callcenter.db.session import Database

PARAM = "tenant"
SLUG_PATTERN = r"[a-z0-9][a-z0-9-]{0,39}"
SLUG_RE = re.compile(rf"^{SLUG_PATTERN}$")
SEGMENT = "{" + PARAM + ":" + SLUG_PATTERN + "}"
"""The path segment: ``PREFIX = "/api/crm/tenants/" + SEGMENT``."""

CREATES = "__creates_tenant__"


def creates_tenant(handler: Any) -> Any:
    """Mark a handler that may name a tenant not created yet (the IVR's ``PUT …/document``):
    an unknown slug reaches it as ``match_info["slug"]`` without ``tenant_id``."""
    setattr(handler, CREATES, True)
    return handler


def slug_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name a tenant, or ``None``."""
    if not SLUG_RE.match(slug):
        return "lower-case letters, digits and '-', 1 to 40, starting with a letter or digit"
    if slug.isdigit():
        return "must contain a letter (digits alone read as a tenant's numeric id)"
    return None


async def find_tenant(database: Database, ref: str) -> tuple[int, str] | None:
    """``(id, slug)`` of the tenant named ``ref``: its slug, or (old clients) its numeric
    id; ``None`` when there is none. Visibility is the caller's to check."""
    ref = ref.strip()
    if not ref or len(ref) > 64:
        return None
    async with database.session() as session:
        row = (
            await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.slug == ref))
        ).first()
        if row is None and ref.isdigit() and int(ref) <= 2**31 - 1:  # INTEGER column
            row = (
                await session.execute(select(Tenant.id, Tenant.slug).where(Tenant.id == int(ref)))
            ).first()
    return None if row is None else (int(row[0]), str(row[1]))
