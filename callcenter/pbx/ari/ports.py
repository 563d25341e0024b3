"""The ARI requests a feature's Stasis handler needs, one small protocol per capability.

A feature states what it uses by combining these (``class IvrAri(Answering, Playing,
SettingVars, Leaving, HangingUp, Protocol)``) instead of copying the signatures of
:class:`~callcenter.pbx.ari.AriRest`, which satisfies every one; a test fake only the ones
it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
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
