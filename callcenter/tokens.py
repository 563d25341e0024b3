"""Roles, principals and API tokens: who a bearer token stands for (no HTTP here).

Only a token's SHA-256 is stored (``api_tokens``), with an expiry; :func:`resolve_token`
turns a presented token into a :class:`Principal` for the auth middleware
(:mod:`callcenter.auth`), which re-exports these names.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from callcenter.db.models import ApiToken, User, UserTenant
from callcenter.db.session import Database

ADMIN, SUPERVISOR, RECEPTIONIST, TENANT = "admin", "supervisor", "receptionist", "tenant"
STAFF_ROLES: tuple[str, ...] = (ADMIN, SUPERVISOR, RECEPTIONIST)
"""Roles that see every tenant."""

_MAX_TOKEN_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``tenant_ids`` is ``None`` for staff (all tenants)."""

    user_id: int
    username: str
    role: str
    tenant_ids: frozenset[int] | None
    token_id: int | None = field(default=None, compare=False, repr=False)

    def can_see(self, tenant_id: int | None) -> bool:
        """True if the tenant (or tenant-less data when ``None``) is visible to this user."""
        if self.tenant_ids is None:
            return True
        return tenant_id is not None and tenant_id in self.tenant_ids


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def issue_token(database: Database, user_id: int, ttl: timedelta) -> tuple[str, datetime]:
    """Create a token for ``user_id``; returns the secret (shown once) and its expiry."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + ttl
    async with database.session() as session:
        # Opportunistic cleanup: a user's expired tokens are useless.
        await session.execute(
            delete(ApiToken).where(ApiToken.user_id == user_id, ApiToken.expires_at <= now)
        )
        session.add(ApiToken(token_hash=token_digest(token), user_id=user_id, expires_at=expires))
    return token, expires


async def resolve_token(
    database: Database, token: str, touch_interval: timedelta = timedelta(minutes=1)
) -> Principal | None:
    """The principal a token stands for, or ``None`` if unknown, expired or disabled."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    now = datetime.now(UTC)
    async with database.session() as session:
        row = (
            await session.execute(
                select(ApiToken.id, ApiToken.last_used_at, User.id, User.username, User.role)
                .join(User, User.id == ApiToken.user_id)
                .where(
                    ApiToken.token_hash == token_digest(token),
                    ApiToken.expires_at > now,
                    User.active.is_(True),
                )
            )
        ).one_or_none()
        if row is None:
            return None
        token_id, last_used, user_id, username, role = row
        tenant_ids: frozenset[int] | None = None
        if role not in STAFF_ROLES:  # unknown future roles fail closed, like tenants
            ids = await session.scalars(
                select(UserTenant.tenant_id).where(UserTenant.user_id == user_id)
            )
            tenant_ids = frozenset(ids)
        if last_used is None or now - last_used >= touch_interval:
            await session.execute(
                update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
            )
    return Principal(user_id, username, role, tenant_ids, token_id)
