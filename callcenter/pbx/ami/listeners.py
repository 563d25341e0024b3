"""Who hears from the AMI connection: event, connect and disconnect listeners.

A listener's failure is logged and never stops the reader or the other listeners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from callcenter.pbx.ami.message import Message

log = logging.getLogger("callcenter.pbx.ami.client")

EventListener = Callable[[Message], None]
ConnectListener = Callable[[], Awaitable[None]]
DisconnectListener = Callable[[str], None]


class AmiListeners:
    """The listener lists of :class:`~callcenter.pbx.ami.client.AmiClient` and their calls."""

    def __init__(self) -> None:
        self._event_listeners: list[EventListener] = []
        self._connect_listeners: list[ConnectListener] = []
        self._disconnect_listeners: list[DisconnectListener] = []
        self.events_received = 0  # events handed to the listeners (read by /metrics)

    def add_event_listener(self, cb: EventListener) -> None:
        """``cb(msg)`` runs synchronously, in arrival order, for every event that is not
        part of a list answer. Exceptions are logged and do not stop the reader."""
        self._event_listeners.append(cb)

    def add_connect_listener(self, cb: ConnectListener) -> None:
        """``await cb()`` after every successful login, in registration order (resync).

        With events on, the listeners wait for Asterisk's ``FullyBooted`` (at most
        ``boot_wait`` s) so that list actions of late-loading modules exist."""
        self._connect_listeners.append(cb)

    def add_disconnect_listener(self, cb: DisconnectListener) -> None:
        """``cb(reason)`` when a logged-in session ends."""
        self._disconnect_listeners.append(cb)

    def _emit_event(self, msg: Message) -> None:
        self.events_received += 1
        for cb in self._event_listeners:
            try:
                cb(msg)
            except Exception:
                log.exception("AMI event listener %r failed on %s", cb, msg.name)

    async def _notify_connected(self) -> None:
        for cb in list(self._connect_listeners):
            try:
                await cb()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("AMI connect listener %r failed", cb)

    def _notify_disconnected(self, reason: str) -> None:
        for cb in list(self._disconnect_listeners):
            try:
                cb(reason)
            except Exception:
                log.exception("AMI disconnect listener %r failed", cb)
