"""Outgoing HTTP to addresses tenants choose (webhooks): never into our own networks.

Rule of this module: a tenant-chosen URL is connected to only if *every* address its host
resolves to is public. The check runs in the connector's resolver, at connect time, for
every connection (no DNS cache), so a name that resolved to a public address when the
endpoint was saved and to 127.0.0.1 now (DNS rebinding) is still refused; literal IPs,
which aiohttp does not resolve, are checked by :meth:`EgressGuard.check_url` first.
Refused: loopback, private (RFC 1918, ULA fc00::/7), link-local (169.254/16 with the cloud
metadata address, fe80::/10), carrier-grade NAT, multicast, reserved and unspecified.

Failures are reported to tenants by category only (:func:`describe_failure`), never with
the transport's own words: "Connection refused" versus "timeout" per port made the
delivery log a port scanner. A :class:`CircuitBreaker` stops hammering an endpoint that
keeps failing.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForbiddenAddress(OSError):
    """The URL's host is, or resolves to, an address in our own networks."""


def is_public(address: Address) -> bool:
    """True for a globally routable unicast address (not ours, not special)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True, slots=True)
class EgressGuard:
    """Which destinations are allowed: public addresses, plus ``allow`` (networks an
    operator trusts explicitly, e.g. an internal CRM's; tests use 127.0.0.1/32)."""

    allow: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, *networks: str) -> EgressGuard:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def permits(self, address: Address) -> bool:
        return is_public(address) or any(address in net for net in self.allow)

    def check_url(self, url: str) -> None:
        """Refuse a URL whose host is a literal address we must not reach (names are
        checked when they are resolved) or the name ``localhost``."""
        host = (urlsplit(url).hostname or "").strip("[]").lower()
        if (host == "localhost" or host.endswith(".localhost")) and not self.allow:
            raise ForbiddenAddress(f"{host}: a local address")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        if not self.permits(address):
            raise ForbiddenAddress(f"{address}: not a public address")

    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """A client session whose every connection passes this guard."""
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self), use_dns_cache=False)
        return aiohttp.ClientSession(connector=connector, **kwargs)


class GuardedResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses if any address is not allowed."""

    def __init__(self, guard: EgressGuard, inner: AbstractResolver | None = None) -> None:
        self._guard = guard
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if not self._guard.permits(address):
                # All or nothing: one private answer means the name points inside.
                raise ForbiddenAddress(f"{host} resolves to {address}: not a public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def describe_failure(exc: BaseException) -> str:
    """What a tenant may read about a failed delivery: the category, no transport detail."""
    if isinstance(exc, ForbiddenAddress) or isinstance(
        getattr(exc, "os_error", None), ForbiddenAddress
    ):
        return "refused: the address is not public (local or private network)"
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError | OSError):
        return "could not connect"
    return "transport error"


class CircuitBreaker:
    """Per key (endpoint): after ``threshold`` failures in a row, open for ``cooldown``
    seconds -- no attempt is made -- then let one attempt through (half-open)."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold, self.cooldown, self._clock = threshold, cooldown, clock
        self._failures: dict[int, int] = {}
        self._open_until: dict[int, float] = {}

    def open_for(self, key: int) -> float:
        """Seconds the circuit of ``key`` stays open (0: an attempt may be made)."""
        return max(0.0, self._open_until.get(key, 0.0) - self._clock())

    def record(self, key: int, ok: bool) -> None:
        if ok:
            self._failures.pop(key, None)
            self._open_until.pop(key, None)
            return
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        if count >= self.threshold:
            self._open_until[key] = self._clock() + self.cooldown

    def forget(self, keys: Iterable[int]) -> None:
        for key in keys:
            self._failures.pop(key, None)
            self._open_until.pop(key, None)
