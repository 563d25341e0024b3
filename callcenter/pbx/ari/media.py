"""ARI media calls: playbacks and recordings (live and stored)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

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
        path = f"/channels/{seg(channel_id)}/record"
        options = RecordOptions(format, max_duration, max_silence, beep, terminate_on, if_exists)
        return await start_recording(self, path, name, options)

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


class RecordOptions(NamedTuple):
    """How a recording is made (the keyword arguments of ``record``/``record_bridge``)."""

    format: str
    max_duration: int | None
    max_silence: int | None
    beep: bool
    terminate_on: TerminateOn
    if_exists: IfExists


async def start_recording(
    ari: AriTransport, path: str, name: str, options: RecordOptions
) -> LiveRecording:
    """POST a ``…/record`` request (a channel's or a bridge's) and read the live recording."""
    params: dict[str, QueryValue] = {
        "name": name,
        "format": options.format,
        "maxDurationSeconds": options.max_duration,
        "maxSilenceSeconds": options.max_silence,
        "beep": options.beep,
        "terminateOn": options.terminate_on,
        "ifExists": options.if_exists,
    }
    return LiveRecording.from_json(await ari.request("POST", path, params))
