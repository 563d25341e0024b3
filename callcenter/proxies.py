"""Forwarded headers from trusted reverse proxies only (``aiohttp-remotes``).

Behind a TLS proxy the peer of every request is the proxy: the login throttle would count
the whole world as one client and the session cookie would never be ``Secure``. With
``auth.trusted_proxies`` set, ``X-Forwarded-For``/``-Proto``/``-Host`` are applied
(``request.remote``, ``.secure``, ``.host``) -- but only for requests whose peer *is* one
of those proxies; from anybody else the headers are ignored, so a client cannot claim to
be someone else by sending them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_remotes import XForwardedFiltered

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def forwarded_middleware(proxies: Sequence[str]) -> Middleware:
    """A middleware applying forwarded headers from ``proxies`` (addresses or networks)."""
    networks: list[Network] = [ipaddress.ip_network(p, strict=False) for p in proxies]
    filtered = XForwardedFiltered(set(networks))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _trusted(request.remote, networks):
            return await filtered.middleware(request, handler)
        return await handler(request)

    return middleware


def _trusted(peer: str | None, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    return any(address in net for net in networks)
