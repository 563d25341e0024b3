"""The actions waiting for their answer, and where each incoming frame goes.

The reader hands whatever the parser has to :meth:`PendingActions.dispatch`: an answer (a
response, or a list action's events up to its ``…Complete``, collected by the
:class:`~callcenter.pbx.ami.tracker.ActionTracker`) completes the future of the action it
names; every other event goes to ``on_event``. A frame the parser could only partly read is
counted and logged, and used when it still yields a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import ActionResult, ActionTracker, AmiParser, BadFrame

log = logging.getLogger(__name__)


class PendingActions:
    """The futures of sent actions by ActionID; ``where`` names the peer in log lines."""

    def __init__(self, where: str, on_event: Callable[[Message], None]) -> None:
        self._where = where
        self._on_event = on_event
        self._tracker = ActionTracker()
        self._futures: dict[str, asyncio.Future[ActionResult]] = {}
        self.bad_frames = 0

    def expect(self, action_id: str) -> asyncio.Future[ActionResult]:
        """The future the answer to ``action_id`` completes (register before sending)."""
        future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self._tracker.expect(action_id)
        self._futures[action_id] = future
        return future

    def forget(self, action_id: str) -> None:
        """Answered, timed out or failed: a late answer is dropped."""
        self._futures.pop(action_id, None)
        self._tracker.forget(action_id)

    def fail_all(self, error: Callable[[str], BaseException]) -> None:
        """The connection is gone: every waiting action fails with ``error(action_id)``."""
        self._tracker.clear()
        futures, self._futures = self._futures, {}
        for action_id, future in futures.items():
            if not future.done():
                future.set_exception(error(action_id))

    def dispatch(self, parser: AmiParser) -> None:
        feed = self._tracker.feed
        for item in parser:
            if isinstance(item, Message):
                msg = item
            elif isinstance(item, BadFrame):
                self.bad_frames += 1
                log.warning("AMI %s: bad frame (%d bytes): %s", self._where, item.size, item.reason)
                if item.message is None:
                    continue
                msg = item.message
            else:
                continue
            out = feed(msg)
            if out is None:
                continue
            if isinstance(out, ActionResult):
                future = self._futures.get(out.action_id)
                if future is not None and not future.done():
                    future.set_result(out)
                continue
            if out.kind == "event":
                self._on_event(out)
