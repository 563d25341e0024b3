"""ARI media calls: playbacks and recordings (live and stored)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from callcenter.pbx.ari.models import LiveRecording, Playback, StoredRecording
from callcenter.pbx.ari.transport import AriTransport, QueryValue, seg

IfExists = Literal["fail", "overwrite", "append"]
TerminateOn = Literal["none", "any", "*", "#"]


class MediaCalls(AriTransport):
    """Play to a channel, record a channel, manage stored recordings."""

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
        path = f"/channels/{seg(channel_id)}/play"
        if playback_id:
            path += f"/{seg(playback_id)}"
        return Playback.from_json(await self.request("POST", path, params))

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{seg(playback_id)}")

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
        params = record_params(
            name=name,
            format=format,
            max_duration=max_duration,
            max_silence=max_silence,
            beep=beep,
            terminate_on=terminate_on,
        )
        params["ifExists"] = if_exists
        path = f"/channels/{seg(channel_id)}/record"
        return LiveRecording.from_json(await self.request("POST", path, params))

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{seg(name)}/stop")

    async def stored_recordings(self) -> list[StoredRecording]:
        data = await self.request("GET", "/recordings/stored")
        return [StoredRecording.from_json(r) for r in data]

    async def download_recording(self, name: str) -> bytes:
        data: bytes = await self.request("GET", f"/recordings/stored/{seg(name)}/file", raw=True)
        return data

    async def delete_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{seg(name)}")


def record_params(
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
