"""ARI channel calls: originate, dial, answer, hang up, redirect, variables, hold, DTMF."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.models import Channel
from callcenter.pbx.ari.transport import AriTransport, QueryValue, seg

SpyDirection = Literal["none", "both", "out", "in"]


class ChannelCalls(AriTransport):
    """The ``/channels`` resource (and ``/applications`` for our own channels)."""

    async def channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.request("GET", "/channels")]

    async def application_channels(self) -> list[str]:
        """Ids of the channels in our Stasis application now (also those that entered it
        while no websocket was connected, or under a previous app process)."""
        data = await self.request("GET", f"/applications/{seg(self.app)}")
        return [str(c) for c in (data or {}).get("channel_ids", [])]

    async def channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self.request("GET", f"/channels/{seg(channel_id)}"))

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
        path = f"/channels/{seg(channel_id)}" if channel_id else "/channels"
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
        await self.request("POST", f"/channels/{seg(channel_id)}/dial", params)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        """Redirect the channel to another endpoint (a blind transfer of the far end)."""
        params: dict[str, QueryValue] = {"endpoint": endpoint}
        await self.request("POST", f"/channels/{seg(channel_id)}/redirect", params)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}", {"reason": reason})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/ring")

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
        await self.request("POST", f"/channels/{seg(channel_id)}/continue", params)

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
        path = f"/channels/{seg(channel_id)}/snoop"
        if snoop_id:
            path += f"/{seg(snoop_id)}"
        return Channel.from_json(await self.request("POST", path, params))

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        params = {"variable": name, "value": value}
        await self.request("POST", f"/channels/{seg(channel_id)}/variable", params)

    async def get_var(self, channel_id: str, name: str) -> str | None:
        """A channel variable or function value; None when the variable is not set."""
        try:
            data = await self.request(
                "GET", f"/channels/{seg(channel_id)}/variable", {"variable": name}
            )
        except AriError as exc:
            if exc.status == 404 and "variable" in exc.message.lower():
                return None
            raise
        return str((data or {}).get("value") or "")

    async def moh_start(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/moh", {"mohClass": moh_class})

    async def moh_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/moh")

    async def hold(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/hold")

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
        await self.request("POST", f"/channels/{seg(channel_id)}/dtmf", params)
