"""Login throttling: count every attempt *before* the password is checked, slow down.

Rule of this module: a login attempt takes a slot in three moving windows before any
password is hashed, atomically (``limits``: one Lua script on Redis, a lock in memory), so
60 concurrent wrong passwords cannot all pass a check that reads the count first and
writes it after the slow hash. The windows:

* account + client address (``pair``): a guesser from one place is stopped early;
* account (``account``): guessers from many places are slowed to that many tries per
  window -- a rate, not a lock-out: the owner's next try after ``Retry-After`` is checked;
* client address (``address``): *failures* only, checked before and counted after the
  check (the two windows above bound how many can race), and wide, because a whole office
  shares one address: colleagues logging in never use it up.

A successful login frees the account's and the pair's slots. Counts live in Redis when the
app has ``redis.url`` (all app instances share them), else in this process.

Hashing is bounded too: at most ``max_hashing`` argon2 verifications run at once (each
takes ~64 MiB and a core for ~50 ms), the others wait their turn.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """Attempts allowed per moving window."""

    pair: RateLimitItem = field(default_factory=lambda: RateLimitItemPerMinute(10, 5))
    account: RateLimitItem = field(default_factory=lambda: RateLimitItemPerMinute(20, 1))
    address: RateLimitItem = field(default_factory=lambda: RateLimitItemPerMinute(300, 5))


@dataclass(frozen=True, slots=True)
class Verdict:
    """``allowed``, or ``retry_after`` seconds and which window (``pair``/``account``/…)."""

    allowed: bool
    retry_after: int = 0
    window: str = ""


class LoginGuard:
    """The login throttle and the bound on concurrent password hashing."""

    def __init__(
        self,
        storage: Storage | None = None,
        limits: ThrottleLimits | None = None,
        *,
        max_hashing: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage or MemoryStorage()
        self.limits = limits or ThrottleLimits()
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._hashing = asyncio.Semaphore(max_hashing or max(2, os.cpu_count() or 2))
        self._clock = clock

    @classmethod
    def for_redis(cls, url: str, limits: ThrottleLimits | None = None) -> LoginGuard:
        """Counts shared through Redis at ``url`` (``redis://``/``rediss://``)."""
        storage = RedisStorage(f"async+{url}", implementation="redispy", key_prefix="cc-login")
        return cls(storage, limits)

    async def attempt(self, username: str, address: str) -> Verdict:
        """Take a slot for one attempt; a refused verdict names the window and the wait."""
        account = username.strip().lower()
        if not await self._limiter.test(self.limits.address, "login", "address", address):
            return await self._refused("address", self.limits.address, (address,))
        windows = (
            ("pair", self.limits.pair, (account, address)),
            ("account", self.limits.account, (account,)),
        )
        for name, item, keys in windows:
            if not await self._limiter.hit(item, "login", name, *keys):
                return await self._refused(name, item, keys)
        return Verdict(True)

    async def failed(self, address: str) -> None:
        """The password was wrong: one more failure from ``address``."""
        await self._limiter.hit(self.limits.address, "login", "address", address)

    async def _refused(self, name: str, item: RateLimitItem, keys: tuple[str, ...]) -> Verdict:
        stats = await self._limiter.get_window_stats(item, "login", name, *keys)
        return Verdict(False, max(1, int(stats.reset_time - self._clock()) + 1), name)

    async def succeeded(self, username: str, address: str) -> None:
        """The password was right: the account's and this pair's attempts are forgotten."""
        account = username.strip().lower()
        await self._limiter.clear(self.limits.pair, "login", "pair", account, address)
        await self._limiter.clear(self.limits.account, "login", "account", account)

    async def hashing(self, work: Callable[[], T]) -> T:
        """Run the CPU-bound ``work`` in a thread, at most ``max_hashing`` at once."""
        async with self._hashing:
            return await asyncio.to_thread(work)
