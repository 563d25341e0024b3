"""ARI REST calls over an injected :class:`aiohttp.ClientSession`.

Only the calls the product needs, each a short method returning a typed result, grouped by
resource: :mod:`~callcenter.pbx.ari.channels`, :mod:`~callcenter.pbx.ari.media`,
:mod:`~callcenter.pbx.ari.bridges`, on the plumbing of :mod:`~callcenter.pbx.ari.transport`.
Every request's round trip is recorded in :attr:`AriRest.latency` for the benchmarks and
/metrics.
"""

from __future__ import annotations

import aiohttp

from callcenter.config import PbxConfig
from callcenter.pbx.ari.bridges import BridgeCalls
from callcenter.pbx.ari.channels import ChannelCalls, SpyDirection
from callcenter.pbx.ari.latency import LatencyStats, LatencySummary
from callcenter.pbx.ari.media import IfExists, MediaCalls, TerminateOn
from callcenter.pbx.ari.models import AsteriskInfo
from callcenter.pbx.ari.transport import QueryValue, query

__all__ = [
    "AriRest",
    "IfExists",
    "LatencyStats",
    "LatencySummary",
    "QueryValue",
    "SpyDirection",
    "TerminateOn",
    "query",
]


class AriRest(ChannelCalls, MediaCalls, BridgeCalls):
    """The REST half of the ARI client."""

    @classmethod
    def from_config(cls, pbx: PbxConfig, session: aiohttp.ClientSession | None = None) -> AriRest:
        """REST only, for the configured PBX (``pbx`` must carry the ARI password)."""
        return cls(
            f"http://{pbx.host}:{pbx.http_port}",
            pbx.ari_username,
            pbx.ari_password,
            pbx.ari_app,
            session=session,
        )

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self.request("GET", "/asterisk/info"))
