"""ARI REST calls over an injected :class:`aiohttp.ClientSession`.

Only the calls the product needs, each a short method returning a typed result. Every
request's round trip is recorded in :attr:`AriRest.latency` for the benchmarks and /metrics.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

from callcenter.config import PbxConfig
from callcenter.pbx.ari.errors import AriError, AriUnavailable
from callcenter.pbx.ari.models import (
    AsteriskInfo,
    Bridge,
    Channel,
    LiveRecording,
    Playback,
    StoredRecording,
)

QueryValue = str | int | float | bool | Sequence[str] | None
IfExists = Literal["fail", "overwrite", "append"]
TerminateOn = Literal["none", "any", "*", "#"]
SpyDirection = Literal["none", "both", "out", "in"]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float


class LatencyStats:
    """The most recent REST round-trip durations (seconds), for percentiles."""

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.total = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.total += 1

    def samples(self) -> list[float]:
        return list(self._samples)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the recent samples (``q`` in 0..1); 0.0 when empty."""
        data = sorted(self._samples)
        if not data:
            return 0.0
        rank = max(0, min(len(data) - 1, math.ceil(q * len(data)) - 1))
        return data[rank]

    def summary(self) -> LatencySummary:
        data = self._samples
        return LatencySummary(
            count=len(data),
            p50=self.percentile(0.5),
            p95=self.percentile(0.95),
            p99=self.percentile(0.99),
            max=max(data, default=0.0),
        )

    def clear(self) -> None:
        self._samples.clear()


def query(params: Mapping[str, QueryValue]) -> dict[str, str]:
    """ARI query string values: booleans as "true"/"false" (aiohttp rejects bool), lists
    comma-joined, None dropped."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            out[key] = ",".join(value)
    return out


def _seg(value: str) -> str:
    """One URL path segment (ids and recording names may hold characters like ';' or '/')."""
    if not value:
        raise ValueError("empty id in ARI path")
    return quote(value, safe="")


class AriRest:
    """The REST half of the ARI client."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        session: aiohttp.ClientSession | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        # A plain header: aiohttp.BasicAuth is deprecated in aiohttp 3.13+.
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.latency = LatencyStats()

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

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the injected aiohttp session is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def close_session(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------- plumbing
    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        body: Any = None,
        raw: bool = False,
    ) -> Any:
        """One ARI call; returns decoded JSON (or bytes with ``raw``), None for 204."""
        url = f"{self.base_url}/ari{path}"
        started = time.perf_counter()
        try:
            async with self.session.request(
                method,
                url,
                params=query(params or {}),
                json=body,
                headers=self._headers,
                timeout=self._timeout,
            ) as resp:
                data = await resp.read()
                status = resp.status
                content_type = resp.content_type
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriUnavailable(method, path, str(exc) or type(exc).__name__) from None
        finally:
            self.latency.add(time.perf_counter() - started)
        if status >= 400:
            raise AriError(status, method, path, _error_message(data, content_type))
        if raw:
            return data
        if status == 204 or not data:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise AriError(status, method, path, f"invalid JSON reply: {data[:200]!r}") from None

    # --------------------------------------------------------------- asterisk
    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self.request("GET", "/asterisk/info"))

    # --------------------------------------------------------------- channels
    async def channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.request("GET", "/channels")]

    async def application_channels(self) -> list[str]:
        """Ids of the channels in our Stasis application now (also those that entered it
        while no websocket was connected, or under a previous app process)."""
        data = await self.request("GET", f"/applications/{_seg(self.app)}")
        return [str(c) for c in (data or {}).get("channel_ids", [])]

    async def channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self.request("GET", f"/channels/{_seg(channel_id)}"))

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        formats: Sequence[str] | None = None,
    ) -> Channel:
        """Create a channel to ``endpoint``; it enters ``app`` (default: ours unless a
        dialplan ``context``/``extension`` is given) once answered."""
        if app is None and context is None and extension is None:
            app = self.app
        if isinstance(app_args, str):
            app_args = [app_args]
        params: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "context": context,
            "extension": extension,
            "priority": priority,
            "label": label,
            "callerId": caller_id,
            "timeout": timeout,
            "otherChannelId": other_channel_id,
            "formats": formats,
        }
        body = {"variables": dict(variables)} if variables else None
        path = f"/channels/{_seg(channel_id)}" if channel_id else "/channels"
        return Channel.from_json(await self.request("POST", path, params, body=body))

    async def create_channel(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        formats: Sequence[str] | None = None,
    ) -> Channel:
        """Create a channel without dialing it (then :meth:`dial`): lets the app put it in
        a bridge first, e.g. for an attended transfer."""
        if isinstance(app_args, str):
            app_args = [app_args]
        params: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app or self.app,
            "appArgs": app_args,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "formats": formats,
        }
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(await self.request("POST", "/channels/create", params, body=body))

    async def dial(
        self, channel_id: str, caller: str | None = None, timeout: int | None = None
    ) -> None:
        """Dial a channel made by :meth:`create_channel`."""
        params: dict[str, QueryValue] = {"caller": caller, "timeout": timeout}
        await self.request("POST", f"/channels/{_seg(channel_id)}/dial", params)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Redirect the channel to another endpoint (a blind transfer of the far end)."""
        params: dict[str, QueryValue] = {"endpoint": endpoint}
        await self.request("POST", f"/channels/{_seg(channel_id)}/redirect", params)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}", {"reason": reason})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/ring")

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        *,
        label: str | None = None,
    ) -> None:
        params = {"context": context, "extension": extension, "priority": priority}
        params["label"] = label
        await self.request("POST", f"/channels/{_seg(channel_id)}/continue", params)

    async def play(
        self,
        channel_id: str,
        media: Sequence[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
        offset_ms: int | None = None,
        skip_ms: int | None = None,
    ) -> Playback:
        """Play ``media`` URIs (``sound:``, ``number:``, ``digits:``, ``recording:`` …)."""
        if isinstance(media, str):
            media = [media]
        params: dict[str, QueryValue] = {
            "media": list(media),
            "lang": lang,
            "offsetms": offset_ms,
            "skipms": skip_ms,
        }
        path = f"/channels/{_seg(channel_id)}/play"
        if playback_id:
            path += f"/{_seg(playback_id)}"
        return Playback.from_json(await self.request("POST", path, params))

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{_seg(playback_id)}")

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration: int | None = None,
        max_silence: int | None = None,
        beep: bool = False,
        terminate_on: TerminateOn = "none",
        if_exists: IfExists = "fail",
    ) -> LiveRecording:
        """Record the channel's incoming audio into stored recording ``name``."""
        params = _record_params(
            name=name,
            format=format,
            max_duration=max_duration,
            max_silence=max_silence,
            beep=beep,
            terminate_on=terminate_on,
        )
        params["ifExists"] = if_exists
        path = f"/channels/{_seg(channel_id)}/record"
        return LiveRecording.from_json(await self.request("POST", path, params))

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{_seg(name)}/stop")

    async def stored_recordings(self) -> list[StoredRecording]:
        data = await self.request("GET", "/recordings/stored")
        return [StoredRecording.from_json(r) for r in data]

    async def download_recording(self, name: str) -> bytes:
        data: bytes = await self.request("GET", f"/recordings/stored/{_seg(name)}/file", raw=True)
        return data

    async def delete_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{_seg(name)}")

    async def snoop(
        self,
        channel_id: str,
        *,
        app: str | None = None,
        spy: SpyDirection = "both",
        whisper: SpyDirection = "none",
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> Channel:
        """A snoop channel on ``channel_id`` (listen: ``spy``; coach: ``whisper``)."""
        params: dict[str, QueryValue] = {
            "app": app or self.app,
            "spy": spy,
            "whisper": whisper,
            "appArgs": app_args,
        }
        path = f"/channels/{_seg(channel_id)}/snoop"
        if snoop_id:
            path += f"/{_seg(snoop_id)}"
        return Channel.from_json(await self.request("POST", path, params))

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        params = {"variable": name, "value": value}
        await self.request("POST", f"/channels/{_seg(channel_id)}/variable", params)

    async def get_var(self, channel_id: str, name: str) -> str | None:
        """A channel variable or function value; None when the variable is not set."""
        try:
            data = await self.request(
                "GET", f"/channels/{_seg(channel_id)}/variable", {"variable": name}
            )
        except AriError as exc:
            if exc.status == 404 and "variable" in exc.message.lower():
                return None
            raise
        return str((data or {}).get("value") or "")

    async def moh_start(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/moh", {"mohClass": moh_class})

    async def moh_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/moh")

    async def hold(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}/hold")

    async def send_dtmf(
        self,
        channel_id: str,
        dtmf: str,
        *,
        before: int | None = None,
        between: int | None = None,
        duration: int | None = None,
        after: int | None = None,
    ) -> None:
        params: dict[str, QueryValue] = {
            "dtmf": dtmf,
            "before": before,
            "between": between,
            "duration": duration,
            "after": after,
        }
        await self.request("POST", f"/channels/{_seg(channel_id)}/dtmf", params)

    # ---------------------------------------------------------------- bridges
    async def create_bridge(
        self,
        type: Sequence[str] = ("mixing",),
        name: str | None = None,
        bridge_id: str | None = None,
    ) -> Bridge:
        params: dict[str, QueryValue] = {"type": list(type), "name": name}
        path = f"/bridges/{_seg(bridge_id)}" if bridge_id else "/bridges"
        return Bridge.from_json(await self.request("POST", path, params))

    async def bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self.request("GET", f"/bridges/{_seg(bridge_id)}"))

    async def add_channel(self, bridge_id: str, channels: Iterable[str]) -> None:
        params: dict[str, QueryValue] = {"channel": list(channels)}
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, channels: Iterable[str]) -> None:
        params: dict[str, QueryValue] = {"channel": list(channels)}
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/removeChannel", params)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_seg(bridge_id)}")

    async def record_bridge(
        self,
        bridge_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration: int | None = None,
        max_silence: int | None = None,
        beep: bool = False,
        terminate_on: TerminateOn = "none",
        if_exists: IfExists = "fail",
    ) -> LiveRecording:
        """Record the bridge's mixed audio (both parties)."""
        params = _record_params(
            name=name,
            format=format,
            max_duration=max_duration,
            max_silence=max_silence,
            beep=beep,
            terminate_on=terminate_on,
        )
        params["ifExists"] = if_exists
        path = f"/bridges/{_seg(bridge_id)}/record"
        return LiveRecording.from_json(await self.request("POST", path, params))


def _record_params(
    *,
    name: str,
    format: str,
    max_duration: int | None,
    max_silence: int | None,
    beep: bool,
    terminate_on: str,
) -> dict[str, QueryValue]:
    return {
        "name": name,
        "format": format,
        "maxDurationSeconds": max_duration,
        "maxSilenceSeconds": max_silence,
        "beep": beep,
        "terminateOn": terminate_on,
    }


def _error_message(body: bytes, content_type: str) -> str:
    text = body.decode("utf-8", "replace").strip()
    if content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return text[:500]
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])
    return text[:500] or "(empty body)"
