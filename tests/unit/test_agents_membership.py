"""Pure membership planning: wanted presence + app_queue's view → AMI actions (tables)."""

from __future__ import annotations

import pytest

from agents.membership import (
    AgentSpec,
    LiveMember,
    MembershipError,
    Presence,
    QueueAdd,
    QueuePause,
    QueuePenalty,
    QueueRemove,
    plan,
)

IFACE = "Local/agent1@agents/n"
SPEC = AgentSpec(1, "Anna", IFACE, "Custom:agent1", {"q-a": 0, "q-b": 2})


def live(queue: str, paused: bool = False, reason: str = "", penalty: int = 0) -> LiveMember:
    return LiveMember(queue, paused, reason, penalty)


@pytest.mark.parametrize(
    ("want", "have", "expected"),
    [
        # Log in from nothing: one add per queue with name, state interface, penalty.
        (
            Presence(True),
            {},
            [
                QueueAdd("q-a", IFACE, "Anna", "Custom:agent1", 0, False, ""),
                QueueAdd("q-b", IFACE, "Anna", "Custom:agent1", 2, False, ""),
            ],
        ),
        # Already as wanted: nothing to do (reconcile is idempotent).
        (Presence(True), {"q-a": live("q-a"), "q-b": live("q-b", penalty=2)}, []),
        # Log out: remove every live membership, also ones the database no longer knows.
        (
            Presence(False),
            {"q-a": live("q-a"), "q-old": live("q-old")},
            [QueueRemove("q-a", IFACE), QueueRemove("q-old", IFACE)],
        ),
        # Restored after a PBX restart while paused: added paused, then the reason set.
        (
            Presence(True, True, "lunch"),
            {},
            [
                QueueAdd("q-a", IFACE, "Anna", "Custom:agent1", 0, True, "lunch"),
                QueuePause("q-a", IFACE, True, "lunch"),
                QueueAdd("q-b", IFACE, "Anna", "Custom:agent1", 2, True, "lunch"),
                QueuePause("q-b", IFACE, True, "lunch"),
            ],
        ),
        # Pause one queue only; the penalty drifted and is corrected; a stray queue removed.
        (
            Presence(True, True, "training", frozenset({"q-b"})),
            {"q-a": live("q-a", penalty=5), "q-b": live("q-b", penalty=2), "q-x": live("q-x")},
            [
                QueueRemove("q-x", IFACE),
                QueuePenalty("q-a", IFACE, 0),
                QueuePause("q-b", IFACE, True, "training"),
            ],
        ),
        # A new reason while already paused is sent; unpausing clears it.
        (
            Presence(True, True, "meeting"),
            {"q-a": live("q-a", True, "lunch"), "q-b": live("q-b", True, "meeting", 2)},
            [QueuePause("q-a", IFACE, True, "meeting")],
        ),
        (
            Presence(True),
            {"q-a": live("q-a", True, "lunch"), "q-b": live("q-b", penalty=2)},
            [QueuePause("q-a", IFACE, False, "")],
        ),
    ],
)
def test_plan(want: Presence, have: dict[str, LiveMember], expected: list[object]) -> None:
    assert plan(SPEC, want, have) == expected


def test_actions_carry_the_headers_app_queue_expects() -> None:
    name, headers = QueueAdd("q-a", IFACE, "Anna", "Custom:agent1", 3, True, "lunch").action()
    assert name == "QueueAdd"
    assert headers == {
        "Queue": "q-a",
        "Interface": IFACE,
        "Penalty": "3",
        "Paused": "true",
        "MemberName": "Anna",
        "StateInterface": "Custom:agent1",
    }
    assert QueuePause("q-a", IFACE, True, "lunch").action()[1]["Reason"] == "lunch"
    assert QueueRemove("q-a", IFACE).action() == (
        "QueueRemove",
        {"Queue": "q-a", "Interface": IFACE},
    )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (AgentSpec(2, "Bob", "Local/a\r\nAction: Originate", "", {}), "interface"),
        (AgentSpec(2, "Bob", "DAHDI/1", "", {}), "interface"),
        (AgentSpec(2, "Bob", "PJSIP/bob", "Custom:bob;x", {}), "state interface"),
        (AgentSpec(2, "Bob\nX", "PJSIP/bob", "", {}), "name"),
        (AgentSpec(2, "", "PJSIP/bob", "", {}), "name"),
    ],
)
def test_unsafe_agents_never_reach_ami(spec: AgentSpec, fragment: str) -> None:
    with pytest.raises(MembershipError, match=fragment):
        plan(spec, Presence(True), {})


def test_reason_must_be_a_plain_word() -> None:
    with pytest.raises(MembershipError, match="pause reason"):
        plan(SPEC, Presence(True, True, "Lunch break!"), {})
