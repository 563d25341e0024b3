"""What an IVR session asks the runner to do. Plain values; the ARI runner executes them.

Media are ARI media URIs (``sound:…``, ``number:…``, ``digits:…``); ``language`` is the
playback's ``lang`` so Asterisk says numbers and picks sounds in the caller's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from callcenter.pbx.ari.playback import Play, StopPlayback


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Call ``on_timeout(token)`` after ``seconds`` unless the session moved on (stale
    tokens are ignored, so the runner never needs to cancel a timer)."""

    token: str
    seconds: float


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """Set the channel language (``CHANNEL(language)``) for Asterisk's own prompts."""

    language: str


@dataclass(frozen=True, slots=True)
class ContinueToQueue:
    """Leave Stasis into app_queue with this priority and the console's variables."""

    queue: str
    priority: int
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SendToVoicemail:
    mailbox: str
    language: str
    variables: Mapping[str, str]
    reason: str = "caller"  # "caller", "closed", or the overflow rule that fired


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Offer (and on acceptance, register) a callback by the agents of ``queue``."""

    queue: str
    number: str | None  # None: anonymous caller, the offer must ask for a number
    language: str
    variables: Mapping[str, str]
    reason: str = "caller"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Blind transfer to a staff member's number (an outbound call from the PBX)."""

    number: str
    staff_id: str
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str


Effect = (
    Play
    | StopPlayback
    | StartTimer
    | SetVariable
    | SetLanguage
    | ContinueToQueue
    | SendToVoicemail
    | OfferCallback
    | Transfer
    | Hangup
)
TERMINAL_EFFECTS = (ContinueToQueue, SendToVoicemail, OfferCallback, Transfer, Hangup)
