"""Pure call-control rules: which actions fit which call state, and what is sent."""

from __future__ import annotations

import pytest

from callcenter.state.calls import Call
from callcenter.state.channels import Channel
from callcenter.state.live import LiveState
from callcontrol import rules
from callcontrol.rules import AmiAction, CallConflict, CallFacts, Leg, facts_of

CALLER = Leg("c1", "PJSIP/trunk-0001", "cc-queue", None)
IFACE = "PJSIP/anna"


def facts(
    phase: str = "queued",
    caller: Leg | None = CALLER,
    agent: Leg | None = None,
    consult: Leg | None = None,
    parked: bool = False,
) -> CallFacts:
    return CallFacts("c1", "acme", phase, "q-acme", caller, agent, consult, parked)


BRIDGED_CALLER = Leg("c1", "PJSIP/trunk-0001", "cc-pickup", "b1")
AGENT = Leg("a1", "PJSIP/anna-0002", "", "b1")
QUEUED = facts()
CONNECTED = facts("left", BRIDGED_CALLER, AGENT)
HELD = facts(
    "left",
    Leg("c1", "PJSIP/trunk-0001", "cc-hold", None),
    Leg("a1", "PJSIP/anna-0002", "cc-agent-wait", None),
)
CONSULTING = facts(
    "left",
    Leg("c1", "PJSIP/trunk-0001", "cc-hold", None),
    Leg("a1", "PJSIP/anna-0002", "cc-consult", "b2"),
    Leg("t1", "Local/+4915123456789@cc-transfer-0001;1", "", "b2"),
)
PARKED = facts("left", Leg("c1", "PJSIP/trunk-0001", "", "park"), None, parked=True)
ALL = {
    "queued": QUEUED,
    "connected": CONNECTED,
    "on hold": HELD,
    "consulting": CONSULTING,
    "parked": PARKED,
}


def test_states() -> None:
    assert {name: f.state for name, f in ALL.items()} == {n: n for n in ALL}


def _apply(action: str, f: CallFacts) -> list[AmiAction]:
    if action == "pickup":
        return rules.pickup(f, IFACE)
    if action == "unpark":
        return rules.unpark(f, IFACE)
    if action == "transfer":
        return rules.blind_transfer(f, "cc-transfer", "+4915123456789")
    if action == "attended-transfer":
        return rules.attended_transfer(f, "+4915123456789")
    if action == "voicemail":
        return rules.voicemail(f, "acme")
    fn = {
        "hold": rules.hold,
        "retrieve": rules.retrieve,
        "attended-complete": rules.attended_complete,
        "attended-cancel": rules.attended_cancel,
        "park": rules.park,
        "hangup": rules.hangup,
    }[action]
    return fn(f)


# Which action applies in which state (True) and which answers 409 (False).
ALLOWED = {
    "pickup": {"queued"},
    "hold": {"connected"},
    "retrieve": {"on hold"},
    "transfer": {"connected", "on hold"},
    "attended-transfer": {"connected"},
    "attended-complete": {"consulting"},
    "attended-cancel": {"consulting"},
    "park": {"connected", "on hold"},
    "unpark": {"parked"},
    "hangup": set(ALL),
    "voicemail": {"queued", "connected", "on hold", "parked"},
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("state", sorted(ALL))
def test_action_state_table(action: str, state: str) -> None:
    if state in ALLOWED[action]:
        assert _apply(action, ALL[state])
    else:
        with pytest.raises(CallConflict, match=f"call is {state}|no consultation|consulting"):
            _apply(action, ALL[state])


def test_pickup_sets_the_interface_then_redirects() -> None:
    assert rules.pickup(QUEUED, IFACE, "Anna") == [
        AmiAction(
            "Setvar",
            (
                ("Channel", "PJSIP/trunk-0001"),
                ("Variable", "CC_PICKUP_AGENT"),
                ("Value", "Anna"),
            ),
        ),
        AmiAction(
            "Setvar",
            (
                ("Channel", "PJSIP/trunk-0001"),
                ("Variable", "CC_PICKUP_INTERFACE"),
                ("Value", IFACE),
            ),
        ),
        AmiAction(
            "Redirect",
            (
                ("Channel", "PJSIP/trunk-0001"),
                ("Context", "cc-pickup"),
                ("Exten", "s"),
                ("Priority", "1"),
            ),
        ),
    ]


def test_hold_moves_both_legs_in_one_redirect() -> None:
    mark, action = rules.hold(CONNECTED)
    # The caller's channel names the leg waiting for it (cc-hold's h extension ends that leg).
    assert (mark.name, dict(mark.headers)["Variable"], dict(mark.headers)["Value"]) == (
        "Setvar",
        "CC_HOLD_AGENT",
        "PJSIP/anna-0002",
    )
    h = dict(action.headers)
    assert action.name == "Redirect"
    assert (h["Channel"], h["Context"]) == ("PJSIP/trunk-0001", "cc-hold")
    assert (h["ExtraChannel"], h["ExtraContext"]) == ("PJSIP/anna-0002", "cc-agent-wait")


def test_blind_transfer_from_hold_also_frees_the_receptionist() -> None:
    out = rules.blind_transfer(HELD, "cc-queue", "q-acme-en")
    assert [a.name for a in out] == ["Redirect", "Hangup"]
    assert dict(out[1].headers)["Channel"] == "PJSIP/anna-0002"


def test_blind_transfer_to_a_number_names_who_is_rung_back() -> None:
    """Issue #8 defect 8: a transfer that cannot be placed rings the receptionist again."""
    out = rules.blind_transfer(CONNECTED, "cc-blind-transfer", "+4915123456789", IFACE)
    assert [(a.name, dict(a.headers).get("Variable")) for a in out] == [
        ("Setvar", "CC_TRANSFER_BACK"),
        ("Redirect", None),
    ]
    assert dict(out[0].headers)["Value"] == IFACE
    assert dict(out[1].headers)["Context"] == "cc-blind-transfer"


def test_attended_transfer_names_the_caller_to_bridge_back_to() -> None:
    mark, redirect = rules.attended_transfer(CONNECTED, "+4915123456789")
    assert dict(mark.headers) == {
        "Channel": "PJSIP/anna-0002",
        "Variable": "CC_CONSULT_CALLER",
        "Value": "PJSIP/trunk-0001",
    }
    assert dict(redirect.headers)["ExtraContext"] == "cc-consult"


def test_hanging_up_a_waiting_caller_marks_it_rejected() -> None:
    """Issue #8 defect 7: not an abandon; the caller did not give up."""
    mark, hangup = rules.hangup(QUEUED)
    assert dict(mark.headers)["Variable"] == "CC_OUTCOME"
    assert dict(mark.headers)["Value"] == "rejected"
    assert hangup.name == "Hangup"
    assert [a.name for a in rules.hangup(CONNECTED)] == ["Hangup"]


def test_complete_and_cancel() -> None:
    complete = rules.attended_complete(CONSULTING)
    assert [(a.name, dict(a.headers).get("Channel2")) for a in complete] == [
        ("Bridge", "Local/+4915123456789@cc-transfer-0001;1"),
        ("Hangup", None),
    ]
    cancel = rules.attended_cancel(CONSULTING)
    assert [a.name for a in cancel] == ["Hangup", "Bridge"]


def test_retrieve_without_receptionist_leg_says_so() -> None:
    lonely = facts("left", Leg("c1", "PJSIP/trunk-0001", "cc-hold", None), None)
    with pytest.raises(CallConflict, match="pick the caller up instead"):
        rules.retrieve(lonely)


def test_retrieve_waits_for_the_receptionist_leg_to_leave_the_bridge() -> None:
    """The redirect of a hold names cc-agent-wait on the receptionist's leg before that leg
    has left the bridge it shared with the caller (the receptionists benchmark saw it one
    call in 300): an AMI Bridge then is refused by the PBX, so the rule refuses first and
    the service waits for the leg (callcontrol.service, _hold_settled)."""
    leaving = facts(
        "left",
        Leg("c1", "PJSIP/trunk-0001", "cc-hold", None),
        Leg("a1", "PJSIP/anna-0002", "cc-agent-wait", "b1"),
    )
    assert leaving.state == "on hold"
    with pytest.raises(CallConflict, match="still being set up"):
        rules.retrieve(leaving)
    assert rules.waiting(HELD.agent) and not rules.waiting(leaving.agent)  # type: ignore[arg-type]


def test_facts_from_the_live_state() -> None:
    state = LiveState()

    def channel(uid: str, name: str, context: str = "", bridge: str | None = None) -> Channel:
        ch = Channel(uid, "L1", name, 6, "", "", "de", context, "s", 0.0, bridge=bridge)
        state.channels.add(ch)
        return ch

    channel("L1", "Local/x@in-0001;1")
    channel("L1b", "Local/x@in-0001;2", "cc-hold")
    channel("A1", "Local/agent1@agents-0002;1", "cc-consult", "b2")
    channel("A2", "Local/agent1@agents-0002;2", "agents")
    channel("T1", "Local/+49891234569@cc-transfer-0003;1", "", "b2")
    call = Call("L1", 0.0, {"L1", "L1b", "A1", "A2", "T1"}, tenant="acme")
    call.queue_channel, call.queued_at, call.left_queue_at = "L1b", 1.0, 2.0
    state.calls["L1"] = call
    f = facts_of(state, "L1", parked_channels={"nothing"})
    assert f is not None
    assert f.caller is not None and f.caller.name == "Local/x@in-0001;2"
    assert f.agent is not None and f.agent.name == "Local/agent1@agents-0002;1"
    assert f.consult is not None and f.consult.uniqueid == "T1"
    assert f.state == "consulting" and f.tenant == "acme"
    assert facts_of(state, "nope") is None


def test_move_redirects_a_waiting_caller_to_the_other_queue() -> None:
    from callcontrol.rules import CallFacts, Leg, move

    caller = Leg("u1", "Local/q@in-1;2", "cc-queue", None)
    waiting = CallFacts("l1", "t", "queued", "q-a", caller, None, None, False)
    (action,) = move(waiting, "q-b")
    assert action.name == "Redirect"
    assert dict(action.headers) == {
        "Channel": "Local/q@in-1;2",
        "Context": "cc-queue",
        "Exten": "q-b",
        "Priority": "1",
    }
    with pytest.raises(CallConflict, match="already waiting in q-a"):
        move(waiting, "q-a")
    answered = CallFacts("l1", "t", "answered", "q-a", caller, None, None, False)
    with pytest.raises(CallConflict, match="only a waiting caller"):
        move(answered, "q-b")
