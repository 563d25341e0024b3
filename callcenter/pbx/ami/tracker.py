"""Pairing answers with their actions by ActionID (sans-IO, no clocks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from callcenter.pbx.ami.message import Message


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The completed answer to one action: its response and, for list actions, the events."""

    action_id: str
    response: Message
    events: tuple[Message, ...] = ()

    @property
    def ok(self) -> bool:
        return self.response.kind == "response" and self.response.name.lower() != "error"


@dataclass(slots=True)
class _Pending:
    response: Message | None = None
    events: list[Message] = field(default_factory=list)
    listing: bool = False


class ActionTracker:
    """Pairs incoming messages with pending ActionIDs; pure, no I/O, no clocks.

    ``feed(msg)`` returns an :class:`ActionResult` when an action completes, the message
    itself when it belongs to no pending action (an event for listeners), or ``None`` when
    it was absorbed into a list still being collected.

    A response carrying ``EventList: start`` opens a list whatever was registered: the
    events with that ActionID are collected up to the one with ``EventList: Complete``.
    An error response completes at once (a failed list action sends no list).
    """

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}

    def expect(self, action_id: str) -> None:
        """Register an ActionID before its action is written."""
        if action_id in self._pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")
        self._pending[action_id] = _Pending()

    def forget(self, action_id: str) -> None:
        """Stop waiting (the caller timed out or gave up); late answers then pass through."""
        self._pending.pop(action_id, None)

    def clear(self) -> list[str]:
        """Drop every pending action (connection lost) and return their ActionIDs."""
        ids = list(self._pending)
        self._pending.clear()
        return ids

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, action_id: object) -> bool:
        return action_id in self._pending

    def feed(self, msg: Message) -> ActionResult | Message | None:
        if not self._pending:
            return msg
        action_id = msg.get("ActionID")
        if action_id is None:
            return msg
        pending = self._pending.get(action_id)
        if pending is None:
            return msg
        kind = msg.kind
        if kind == "response" and pending.response is None:
            pending.response = msg
            if msg.name.lower() != "error" and (msg.get("EventList") or "").lower() == "start":
                pending.listing = True
                return None
            del self._pending[action_id]
            return ActionResult(action_id, msg)
        if kind == "event" and pending.listing and pending.response is not None:
            pending.events.append(msg)
            if (msg.get("EventList") or "").lower() == "complete":
                del self._pending[action_id]
                return ActionResult(action_id, pending.response, tuple(pending.events))
            return None
        return msg
