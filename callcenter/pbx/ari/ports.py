"""The ARI requests a feature's Stasis handler needs, one small protocol per capability.

A feature states what it uses by combining these (``class IvrAri(Answering, Playing,
SettingVars, Leaving, HangingUp, Protocol)``) instead of copying the signatures of
:class:`~callcenter.pbx.ari.AriRest`, which satisfies every one; a test fake only the ones
it needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Answering(Protocol):
    async def answer(self, channel_id: str) -> None: ...


class HangingUp(Protocol):
    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


class Playing(Protocol):
    async def play(
        self,
        channel_id: str,
        media: Sequence[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> Any: ...

    async def stop_playback(self, playback_id: str) -> None: ...


class ReadingVars(Protocol):
    async def get_var(self, channel_id: str, name: str) -> str | None: ...


class SettingVars(Protocol):
    async def set_var(self, channel_id: str, name: str, value: str) -> None: ...


class Leaving(Protocol):
    """Hand the channel back to the dialplan."""

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None: ...


class Recorder(Protocol):
    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration: int | None = None,
        max_silence: int | None = None,
        beep: bool = False,
        terminate_on: Any = "none",
        if_exists: Any = "fail",
    ) -> Any: ...


class Originating(Protocol):
    app: str

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
    ) -> Any: ...


class Ringing(Protocol):
    async def ring(self, channel_id: str) -> None: ...


class SendingDtmf(Protocol):
    async def send_dtmf(
        self, channel_id: str, dtmf: str, *, duration: int | None = None
    ) -> None: ...


class Bridging(Protocol):
    async def create_bridge(
        self,
        type: Sequence[str] = ("mixing",),
        name: str | None = None,
        bridge_id: str | None = None,
    ) -> Any: ...

    async def add_channel(self, bridge_id: str, channels: Sequence[str]) -> None: ...


class LookingUp(Protocol):
    async def channel(self, channel_id: str) -> Any: ...


class MusicOnHold(Protocol):
    async def moh_start(self, channel_id: str, moh_class: str | None = None) -> None: ...

    async def moh_stop(self, channel_id: str) -> None: ...
