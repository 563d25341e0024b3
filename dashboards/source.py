"""What the dashboards read of the live state: :class:`LiveSource` and its implementation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from dashboards.views import CallFlags


class LiveSource(Protocol):
    """What the hub reads of the live state (:class:`callcenter.state.live.LiveState`)."""

    def call_view(self, linkedid: str) -> Mapping[str, Any] | None: ...

    def call_flags(self, linkedid: str) -> CallFlags: ...

    def queue_view(self, name: str) -> Mapping[str, Any] | None: ...

    def agent_view(self, interface: str) -> Mapping[str, Any] | None: ...

    def call_ids(self) -> Iterable[str]: ...

    def queue_names(self) -> Iterable[str]: ...

    def agent_views(self) -> Mapping[str, Mapping[str, Any]]: ...


class StateSource:
    """:class:`LiveSource` over a :class:`callcenter.state.live.LiveState`."""

    def __init__(self, state: Callable[[], Any], clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._clock = clock

    def call_view(self, linkedid: str) -> Mapping[str, Any] | None:
        state = self._state()
        call = state.calls.get(linkedid)
        return None if call is None else call.view(self._clock(), state.region)

    def call_flags(self, linkedid: str) -> CallFlags:
        from callcontrol.rules import facts_of

        facts = facts_of(self._state(), linkedid)
        if facts is None:
            return CallFlags()
        return CallFlags(held=facts.held, consult=facts.consult is not None)

    def queue_view(self, name: str) -> Mapping[str, Any] | None:
        """A queue the PBX reported, or one the tenants configure that has had no event yet."""
        state = self._state()
        queue = state.queues.get(name)
        if queue is not None:
            view: Mapping[str, Any] = queue.view(self._clock(), state.queue_tenants.get(name))
            return view
        if name in state.queue_tenants:
            return {"name": name, "tenant": state.queue_tenants[name], "callers": [], "calls": 0}
        return None

    def agent_view(self, interface: str) -> Mapping[str, Any] | None:
        view: Mapping[str, Any] = self._state().agents.agent_view(interface, self._clock())
        return view

    def call_ids(self) -> Iterable[str]:
        return list(self._state().calls)

    def queue_names(self) -> Iterable[str]:
        state = self._state()
        return sorted(set(state.queues) | set(state.queue_tenants))

    def agent_views(self) -> Mapping[str, Mapping[str, Any]]:
        views: Mapping[str, Mapping[str, Any]] = self._state().agents.views(self._clock())
        return views
