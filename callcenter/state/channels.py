"""Channels as the PBX reports them, keyed by ``Uniqueid``.

Only the fields the call view needs are kept. Channel events carry a snapshot of the channel
(``Channel``, ``ChannelState``, ``CallerIDNum`` …, ``Uniqueid``, ``Linkedid``); each handler
copies just what its event changes, because this runs for every AMI event.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# ast_channel_state numbers as sent in ``ChannelState``.
STATE_UP = 6
CHANNEL_STATES = {
    0: "down",
    1: "reserved",
    2: "offhook",
    3: "dialing",
    4: "ring",
    5: "ringing",
    6: "up",
    7: "busy",
    8: "dialing_offhook",
    9: "prering",
}


# Channel technologies that only serve another call: snoops (position announcements,
# whisper), ARI announcers and recorders. They are never calls of their own (issue #8).
HELPER_PREFIXES = ("Snoop/", "Announcer/", "Recorder/")


def is_helper_channel(name: str) -> bool:
    return name.startswith(HELPER_PREFIXES)


@dataclass(slots=True)
class Channel:
    """One channel of a call; mutable, owned by :class:`ChannelTable`."""

    uniqueid: str
    linkedid: str
    name: str
    state: int
    caller_num: str
    caller_name: str
    language: str
    context: str
    exten: str
    created_at: float
    up_at: float | None = None
    bridge: str | None = None
    on_hold_since: float | None = None
    hold_seconds: float = 0.0
    # Created from a later event (not Newchannel): created_at is a guess until a
    # CoreShowChannel gives the real age.
    partial: bool = False

    @classmethod
    def from_headers(cls, h: dict[str, str], now: float, *, partial: bool = False) -> Channel:
        state = int_header(h.get("ChannelState"))
        return cls(
            uniqueid=h["Uniqueid"],
            linkedid=h.get("Linkedid") or h["Uniqueid"],
            name=h.get("Channel", ""),
            state=state,
            caller_num=h.get("CallerIDNum", ""),
            caller_name=h.get("CallerIDName", ""),
            language=h.get("Language", ""),
            context=h.get("Context", ""),
            exten=h.get("Exten", ""),
            created_at=now,
            up_at=now if state == STATE_UP else None,
            partial=partial,
        )

    def view(self) -> dict[str, object]:
        return {
            "uniqueid": self.uniqueid,
            "name": self.name,
            "state": CHANNEL_STATES.get(self.state, str(self.state)),
            "caller_num": self.caller_num,
            "bridge": self.bridge,
            "on_hold": self.on_hold_since is not None,
        }


class ChannelTable:
    """Live channels plus a bounded memory of hung-up ones.

    The tombstones stop late or replayed events (a second Hangup, a CoreShowChannel listed
    just before the channel hung up) from resurrecting a channel that is gone.
    """

    def __init__(self, tombstones: int = 20_000) -> None:
        self.by_id: dict[str, Channel] = {}
        self._gone: OrderedDict[str, None] = OrderedDict()
        self._gone_max = tombstones

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, uniqueid: str) -> Channel | None:
        return self.by_id.get(uniqueid)

    def is_gone(self, uniqueid: str) -> bool:
        return uniqueid in self._gone

    def add(self, channel: Channel) -> None:
        self.by_id[channel.uniqueid] = channel

    def remove(self, uniqueid: str) -> Channel | None:
        channel = self.by_id.pop(uniqueid, None)
        if channel is not None:
            self._gone[uniqueid] = None
            if len(self._gone) > self._gone_max:
                self._gone.popitem(last=False)
        return channel


def parse_duration(value: str | None) -> float:
    """``HH:MM:SS`` (CoreShowChannel ``Duration``) → seconds; malformed → 0."""
    if not value:
        return 0.0
    total = 0
    try:
        for part in value.split(":"):
            total = total * 60 + int(part)
    except ValueError:
        return 0.0
    return float(total)


def int_header(value: str | None, default: int = 0) -> int:
    """An AMI header as an int; missing or malformed → ``default``."""
    try:
        return int(value) if value else default
    except ValueError:
        return default
