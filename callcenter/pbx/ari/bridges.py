"""ARI bridge calls: create, join, leave, destroy, record the mix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from callcenter.pbx.ari.media import IfExists, RecordOptions, TerminateOn, start_recording
from callcenter.pbx.ari.models import Bridge, LiveRecording
from callcenter.pbx.ari.transport import AriTransport, QueryValue, seg


class BridgeCalls(AriTransport):
    """The ``/bridges`` resource."""

    async def create_bridge(
        self,
        type: Sequence[str] = ("mixing",),
        name: str | None = None,
        bridge_id: str | None = None,
    ) -> Bridge:
        params: dict[str, QueryValue] = {"type": list(type), "name": name}
        path = f"/bridges/{seg(bridge_id)}" if bridge_id else "/bridges"
        return Bridge.from_json(await self.request("POST", path, params))

    async def bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self.request("GET", f"/bridges/{seg(bridge_id)}"))

    async def add_channel(self, bridge_id: str, channels: Iterable[str]) -> None:
        params: dict[str, QueryValue] = {"channel": list(channels)}
        await self.request("POST", f"/bridges/{seg(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, channels: Iterable[str]) -> None:
        params: dict[str, QueryValue] = {"channel": list(channels)}
        await self.request("POST", f"/bridges/{seg(bridge_id)}/removeChannel", params)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bridge_id)}")

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
        path = f"/bridges/{seg(bridge_id)}/record"
        options = RecordOptions(format, max_duration, max_silence, beep, terminate_on, if_exists)
        return await start_recording(self, path, name, options)
