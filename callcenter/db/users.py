"""User accounts: create, list, change password, (de)activate.

Rules kept here so the CLI and any admin API share them: usernames are plain identifiers,
roles come from :data:`callcenter.db.models.ROLES`, a ``tenant`` user must be linked to at
least one tenant and staff users to none (staff see every tenant).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import ROLES, ApiToken, Tenant, User, UserTenant
from callcenter.db.session import Database
from callcenter.passwords import check_strength, hash_password

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")


class UserError(ValueError):
    """A user operation was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as shown to administrators (never the password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    tenant_slugs: tuple[str, ...]
    created_at: datetime
    last_login_at: datetime | None


def check_username(username: str) -> None:
    if not USERNAME_RE.fullmatch(username):
        raise UserError(
            f"username {username!r} must be 1-150 characters: letters, digits, '.', '_', '@', "
            "'-', starting with a letter or digit"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")


async def _tenant_ids(session: AsyncSession, slugs: Iterable[str]) -> list[int]:
    wanted = list(dict.fromkeys(slugs))
    rows = await session.execute(select(Tenant.slug, Tenant.id).where(Tenant.slug.in_(wanted)))
    found = {slug: tid for slug, tid in rows}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise UserError(f"unknown tenant(s): {', '.join(missing)}")
    return [found[s] for s in wanted]


async def _info(session: AsyncSession, user: User) -> UserInfo:
    slugs = (
        await session.scalars(
            select(Tenant.slug)
            .join(UserTenant, UserTenant.tenant_id == Tenant.id)
            .where(UserTenant.user_id == user.id)
            .order_by(Tenant.slug)
        )
    ).all()
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        tenant_slugs=tuple(slugs),
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


class UserRepository:
    """User administration on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self,
        username: str,
        password: str,
        role: str,
        *,
        display_name: str = "",
        tenant_slugs: Iterable[str] = (),
    ) -> UserInfo:
        """Create a user; :class:`UserError` / ``WeakPassword`` say what was refused."""
        check_username(username)
        check_role(role)
        check_strength(password, strict=role == "admin", username=username)
        slugs = list(tenant_slugs)
        if role == "tenant" and not slugs:
            raise UserError("a 'tenant' user needs at least one tenant (--tenant SLUG)")
        if role != "tenant" and slugs:
            raise UserError(f"role {role!r} sees all tenants; do not link tenants to it")
        # argon2id is deliberately slow: keep it off the event loop.
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._db.session() as session:
            if await session.scalar(select(User.id).where(User.username == username)):
                raise UserError(f"user {username!r} already exists")
            tenant_ids = await _tenant_ids(session, slugs)
            user = User(
                username=username,
                display_name=display_name or username,
                password_hash=password_hash,
                role=role,
            )
            session.add(user)
            await session.flush()
            session.add_all(UserTenant(user_id=user.id, tenant_id=t) for t in tenant_ids)
            await session.flush()
            return await _info(session, user)

    async def get(self, username: str) -> UserInfo | None:
        async with self._db.session() as session:
            user = await session.scalar(select(User).where(User.username == username))
            return await _info(session, user) if user is not None else None

    async def list(self) -> list[UserInfo]:
        async with self._db.session() as session:
            users = (await session.scalars(select(User).order_by(User.username))).all()
            return [await _info(session, u) for u in users]

    async def set_password(self, username: str, password: str, *, revoke: bool = True) -> None:
        """Replace the password; by default also revoke the user's open sessions."""
        async with self._db.session() as session:
            role = await session.scalar(select(User.role).where(User.username == username))
        if role is None:
            raise UserError(f"no user {username!r}")
        check_strength(password, strict=role == "admin", username=username)
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._db.session() as session:
            user_id = await session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise UserError(f"no user {username!r}")
            await session.execute(
                update(User).where(User.id == user_id).values(password_hash=password_hash)
            )
            if revoke:
                await session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))

    async def set_active(self, username: str, active: bool) -> None:
        """Enable or disable a login; disabling also revokes open sessions."""
        async with self._db.session() as session:
            user_id = await session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise UserError(f"no user {username!r}")
            await session.execute(update(User).where(User.id == user_id).values(active=active))
            if not active:
                await session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))
