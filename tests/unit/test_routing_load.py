"""Queue load from live-state queues and members, as routing's overflow rules see it."""

from __future__ import annotations

from callcenter.state.agents import Member
from callcenter.state.queues import QueueState, WaitingCaller
from ivr.queue_load import queue_loads
from ivr.routing import QueueLoad


def member(
    queue: str, name: str, status: int = 1, paused: bool = False, in_call: bool = False
) -> Member:
    return Member(
        queue=queue,
        interface=f"Local/{name}@agents/n",
        name=name,
        state_interface=f"Custom:{name}",
        status=status,
        paused=paused,
        paused_reason="lunch" if paused else "",
        in_call=in_call,
        calls_taken=0,
        last_call=0.0,
        penalty=0,
        since=0.0,
    )


def waiting(uid: str, joined_at: float, position: int) -> WaitingCaller:
    return WaitingCaller(
        uniqueid=uid,
        linkedid=uid,
        channel=f"PJSIP/x-{uid}",
        position=position,
        joined_at=joined_at,
        caller_num="",
        caller_name="",
    )


def test_queue_loads() -> None:
    busy = QueueState("q-a")
    busy.waiting = {"1": waiting("1", 100.0, 1), "2": waiting("2", 160.0, 2)}
    empty = QueueState("q-b")
    members = [
        member("q-a", "anna"),  # available
        member("q-a", "bert", paused=True),  # logged in, not available
        member("q-a", "carl", status=2, in_call=True),  # busy
        member("q-a", "dora", status=5),  # unavailable device: not logged in
        member("q-b", "emil", status=4),  # invalid: not logged in
        member("q-x", "fritz"),  # a queue the live state has not listed: ignored
    ]
    loads = queue_loads({"q-a": busy, "q-b": empty}, members, now=200.0)
    assert loads == {"q-a": QueueLoad(3, 1, 2, 100.0), "q-b": QueueLoad(0, 0, 0, 0.0)}
