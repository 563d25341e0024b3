"""Playback as a session effect: what a pure call machine asks its ARI runner to play or stop.

The IVR engine (:mod:`ivr.effects`) and the voicemail session (:mod:`voicemail.session`)
both return these values; their runners carry them out with :func:`perform`. Media are ARI
media URIs (``sound:…``, ``number:…``, ``digits:…``); ``language`` is the playback's
``lang``, so Asterisk says numbers and picks sounds in the caller's language.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.ports import Playing


@dataclass(frozen=True, slots=True)
class Play:
    playback_id: str
    media: tuple[str, ...]
    language: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


async def perform(ari: Playing, channel_id: str, effect: Play | StopPlayback) -> None:
    """Start the playback on ``channel_id``, or stop it (one that has just ended is no error:
    the stop races the playback's own end)."""
    if isinstance(effect, Play):
        await ari.play(
            channel_id, list(effect.media), lang=effect.language, playback_id=effect.playback_id
        )
        return
    with contextlib.suppress(AriError):
        await ari.stop_playback(effect.playback_id)
