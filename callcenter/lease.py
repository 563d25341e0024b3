"""Leader lease: which app instance owns the ARI application (issue #8, defect 6).

Several app instances may run against one Asterisk; only one may hold the Stasis
application's websocket (a second connection replaces the first). The owner holds a lease
row in the database (``app_leases``: works on the embedded SQLite and on PostgreSQL, no
Redis needed) and renews it every ``ttl / 3`` seconds; a standby claims it once it has
expired, i.e. at most ``ttl`` (+ one poll) after the owner died. A clean shutdown releases
it, so a standby takes over at its next poll.

While the database cannot be reached nobody can claim the lease, so the owner keeps the
application rather than leaving every caller to the dialplan fallback; it gives it up only
when the database says another instance holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, delete, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.base import Base
from callcenter.db.models import UTCDateTime
from callcenter.db.session import Database

log = logging.getLogger(__name__)


class AppLease(Base):
    __tablename__ = "app_leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


def instance_id() -> str:
    """``host:pid:random``: unique per process, readable in logs and /healthz."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseStore:
    """Claims and releases lease rows (app clocks; keep hosts NTP-synchronised)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew ``name`` for ``holder`` unless another holder's lease is current."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl)
        async with self._db.session() as session:
            result = await session.execute(
                update(AppLease)
                .where(
                    AppLease.name == name,
                    (AppLease.holder == holder) | (AppLease.expires_at < now),
                )
                .values(holder=holder, expires_at=expires)
            )
            if getattr(result, "rowcount", 0):
                return True
            inserted = await session.execute(
                self._db.insert(AppLease)
                .values(name=name, holder=holder, expires_at=expires)
                .on_conflict_do_nothing(index_elements=[AppLease.name])
            )
            return bool(getattr(inserted, "rowcount", 0))

    async def release(self, name: str, holder: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                delete(AppLease).where(AppLease.name == name, AppLease.holder == holder)
            )


class Leadership:
    """Keeps claiming the lease; runs ``on_gain`` when it becomes owner, ``on_loss`` when
    another instance holds it."""

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        *,
        ttl: float,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        on_renew: Callable[[], Awaitable[None]] | None = None,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = holder or instance_id()
        self.ttl = ttl
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.on_renew = on_renew
        self.is_leader = False
        self.changes = 0  # times this instance became owner (metrics)
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        """First claim now (a single instance owns the app at once), then in the
        background. If the database cannot be asked at start-up, this instance runs as
        owner (as a lone instance must): should another one do the same, Asterisk keeps
        the newer websocket, and the lease sorts the owners out once the database is back."""
        await self.step()
        if self._failing and not self.is_leader:
            self.is_leader = True
            self.changes += 1
            await self.on_gain()
        self._task = asyncio.create_task(self._loop(), name=f"lease-{self.name}")

    async def step(self) -> None:
        try:
            owner = await self.store.claim(self.name, self.holder, self.ttl)
        except (SQLAlchemyError, OSError) as exc:
            if not self._failing:
                log.warning(
                    "lease %s: database unreachable, keeping current role: %s", self.name, exc
                )
            self._failing = True
            return
        if self._failing:
            log.info("lease %s: database reachable again", self.name)
            self._failing = False
        if owner and not self.is_leader:
            self.is_leader = True
            self.changes += 1
            log.info("lease %s: this instance (%s) owns it", self.name, self.holder)
            await self.on_gain()
        elif owner and self.on_renew is not None:
            await self.on_renew()  # e.g. restart a client that stopped meanwhile
        elif not owner and self.is_leader:
            self.is_leader = False
            log.warning("lease %s: held by another instance; standing by", self.name)
            await self.on_loss()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self.step()
            except Exception:  # a failing hook must not end the loop
                log.exception("lease %s: step failed", self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.is_leader:
            self.is_leader = False
            await self.on_loss()
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self.store.release(self.name, self.holder)
