"""Asterisk REST Interface: a thin aiohttp client (REST calls + events websocket)."""

from callcenter.pbx.ari.client import AriClient, ConnectListener, EventHandler
from callcenter.pbx.ari.errors import AriError, AriUnavailable
from callcenter.pbx.ari.events import AriEvent, EventParseError, Subscription, for_channel
from callcenter.pbx.ari.models import (
    AsteriskInfo,
    Bridge,
    CallerId,
    Channel,
    DialplanLocation,
    LiveRecording,
    Playback,
    StoredRecording,
)
from callcenter.pbx.ari.rest import AriRest, LatencyStats, LatencySummary, query

__all__ = [
    "AriClient",
    "AriError",
    "AriEvent",
    "AriRest",
    "AriUnavailable",
    "AsteriskInfo",
    "Bridge",
    "CallerId",
    "Channel",
    "ConnectListener",
    "DialplanLocation",
    "EventHandler",
    "EventParseError",
    "LatencyStats",
    "LatencySummary",
    "LiveRecording",
    "Playback",
    "StoredRecording",
    "Subscription",
    "for_channel",
    "query",
]
