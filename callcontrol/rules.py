"""Pure rules of call control: a call's facts + an action → AMI actions, or a conflict.

Facts come from the live state (channels by ``Uniqueid``, their dialplan context and
bridge), never from the browser: the channel names that go into AMI headers are the
PBX's own. Mechanisms (all AMI, so PJSIP phones and Local test agents behave alike):

- pick up / retrieve from parking: ``Setvar CC_PICKUP_INTERFACE`` + ``Redirect`` of the
  caller to ``cc-pickup``, which dials the receptionist's interface;
- hold: ``Redirect`` of the caller to ``cc-hold`` (music) and, in the same action, of the
  receptionist's leg to ``cc-agent-wait``; retrieve: ``Bridge`` of the two again;
- blind transfer: ``Redirect`` of the caller to ``cc-blind-transfer,<E.164>`` (with
  ``CC_TRANSFER_BACK``, the receptionist's interface, rung again if the target cannot be
  reached) or ``cc-queue,<queue>``; attended: caller to ``cc-hold``, receptionist to
  ``cc-consult,<E.164>`` (with ``CC_CONSULT_CALLER``, bridged back if the consultation
  cannot be placed); complete = ``Bridge`` caller with the consulted channel and hang
  the receptionist up; cancel = hang the consulted channel up and ``Bridge`` back;
- park: AMI ``Park`` (res_parking, music on hold); hang up: ``Hangup``; voicemail:
  ``Redirect`` to ``cc-voicemail,<box>``; move (a waiting caller to another queue, the
  supervisors' action): ``Redirect`` to ``cc-queue,<queue>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from callcenter.state.channels import Channel
from callcenter.state.live import LiveState

HOLD_CONTEXT = "cc-hold"
AGENT_WAIT_CONTEXT = "cc-agent-wait"
CONSULT_CONTEXT = "cc-consult"
PICKUP_CONTEXT = "cc-pickup"
TRANSFER_CONTEXT = "cc-transfer"
BLIND_TRANSFER_CONTEXT = "cc-blind-transfer"
QUEUE_CONTEXT = "cc-queue"
VOICEMAIL_CONTEXT = "cc-voicemail"

Action = Literal[
    "pickup",
    "hold",
    "retrieve",
    "transfer",
    "attended-transfer",
    "attended-complete",
    "attended-cancel",
    "park",
    "unpark",
    "hangup",
    "voicemail",
    "move",
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]


class CallConflict(Exception):
    """The action does not fit the call's state now (HTTP 409); the message says why."""


@dataclass(frozen=True, slots=True)
class Leg:
    uniqueid: str
    name: str
    context: str
    bridge: str | None


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What call control needs to know about one live call."""

    linkedid: str
    tenant: str | None
    phase: str
    queue: str | None
    caller: Leg | None
    agent: Leg | None
    consult: Leg | None
    parked: bool
    agent_interface: str | None = None  # the receptionist's interface (queue or pickup)

    @property
    def held(self) -> bool:
        return (
            self.caller is not None
            and self.caller.context == HOLD_CONTEXT
            and not (self.caller.bridge)
        )

    @property
    def connected(self) -> bool:
        """Caller and receptionist talk (bridged), not parked or held."""
        return (
            self.caller is not None
            and self.agent is not None
            and self.caller.bridge is not None
            and self.caller.bridge == self.agent.bridge
            and not self.parked
        )

    @property
    def state(self) -> str:
        """A one-word description for error messages and the API."""
        if self.parked:
            return "parked"
        if self.consult is not None:
            return "consulting"
        if self.held:
            return "on hold"
        if self.connected:
            return "connected"
        return self.phase


@dataclass(frozen=True, slots=True)
class AmiAction:
    name: str
    headers: tuple[tuple[str, str], ...]


def leg_of(channel: Channel) -> Leg:
    return Leg(channel.uniqueid, channel.name, channel.context, channel.bridge)


def waiting(leg: Leg) -> bool:
    """The receptionist's leg waits for its caller (hold, cancelled consultation): in
    cc-agent-wait and in no bridge, so that AMI Bridge can take it."""
    return leg.context == AGENT_WAIT_CONTEXT and leg.bridge is None


def facts_of(
    state: LiveState, linkedid: str, parked_channels: Iterable[str] = ()
) -> CallFacts | None:
    """The call's facts from the live state; None if the PBX has no such call."""
    call = state.calls.get(linkedid)
    if call is None:
        return None
    legs = {}
    for uid in call.channels:
        ch = state.channels.get(uid)
        if ch is not None:
            legs[uid] = leg_of(ch)
    caller = legs.get(call.queue_channel or "") or legs.get(call.linkedid)
    others = [leg for leg in legs.values() if caller is None or leg.uniqueid != caller.uniqueid]
    agent = None
    if caller is not None and caller.bridge:
        agent = next((leg for leg in others if leg.bridge == caller.bridge), None)
    if agent is None:
        agent = next(
            (leg for leg in others if leg.context in (AGENT_WAIT_CONTEXT, CONSULT_CONTEXT)), None
        )
    if (
        agent is None
        and call.agent_channel in legs
        and call.agent_channel != (caller.uniqueid if caller else None)
    ):
        agent = legs[call.agent_channel]
    consult = None
    if agent is not None and agent.context == CONSULT_CONTEXT and agent.bridge:
        consult = next(
            (leg for leg in others if leg.bridge == agent.bridge and leg is not agent), None
        )
    parked = caller is not None and caller.name in set(parked_channels)
    return CallFacts(
        call.linkedid,
        call.tenant,
        call.phase,
        call.queue,
        caller,
        agent,
        consult,
        parked,
        call.agent_interface,
    )


def _a(name: str, **headers: str) -> AmiAction:
    return AmiAction(name, tuple(headers.items()))


def _redirect(leg: Leg, context: str, exten: str) -> AmiAction:
    return _a("Redirect", Channel=leg.name, Context=context, Exten=exten, Priority="1")


def _hold_caller(caller: Leg, agent: Leg, agent_context: str, agent_exten: str) -> AmiAction:
    """One Redirect: the caller to hold music, the receptionist's leg to ``agent_context``."""
    return _a(
        "Redirect",
        Channel=caller.name,
        Context=HOLD_CONTEXT,
        Exten="s",
        Priority="1",
        ExtraChannel=agent.name,
        ExtraContext=agent_context,
        ExtraExten=agent_exten,
        ExtraPriority="1",
    )


def _to_receptionist(caller: Leg, interface: str, name: str | None) -> list[AmiAction]:
    """Send the caller through the pickup dialplan, which rings ``interface``; ``name`` (the
    position's name) is who the live state shows as the call's agent once answered."""
    return [
        _a("Setvar", Channel=caller.name, Variable="CC_PICKUP_AGENT", Value=name or ""),
        _a("Setvar", Channel=caller.name, Variable="CC_PICKUP_INTERFACE", Value=interface),
        _redirect(caller, PICKUP_CONTEXT, "s"),
    ]


def _need_caller(f: CallFacts) -> Leg:
    if f.caller is None:
        raise CallConflict(f"call {f.linkedid} has no caller channel any more")
    return f.caller


def pickup(f: CallFacts, interface: str, name: str | None = None) -> list[AmiAction]:
    """Take this waiting caller out of the queue to ``interface`` (validated by the caller)."""
    caller = _need_caller(f)
    if f.phase not in ("queued", "ringing") or f.connected:
        raise CallConflict(f"call is {f.state}: only a caller waiting in a queue can be picked up")
    return _to_receptionist(caller, interface, name)


def hold(f: CallFacts) -> list[AmiAction]:
    caller = _need_caller(f)
    if not f.connected or f.agent is None:
        raise CallConflict(f"call is {f.state}: only a connected call can be put on hold")
    return [
        # Whose leg waits for this caller: cc-hold ends it if the caller hangs up on hold.
        _a("Setvar", Channel=caller.name, Variable="CC_HOLD_AGENT", Value=f.agent.name),
        _hold_caller(caller, f.agent, AGENT_WAIT_CONTEXT, "s"),
    ]


def retrieve(f: CallFacts) -> list[AmiAction]:
    caller = _need_caller(f)
    if not f.held or f.consult is not None:
        raise CallConflict(f"call is {f.state}: only a call on hold can be retrieved")
    if f.agent is None or f.agent.context != AGENT_WAIT_CONTEXT:
        raise CallConflict("the receptionist's line is gone: pick the caller up instead")
    if not waiting(f.agent):
        raise CallConflict("the hold is still being set up on the PBX: retrieve again")
    return [_a("Bridge", Channel1=f.agent.name, Channel2=caller.name, Tone="no")]


def blind_transfer(
    f: CallFacts, context: str, exten: str, back: str | None = None
) -> list[AmiAction]:
    """To ``cc-blind-transfer,<E.164>`` or ``cc-queue,<queue>`` (values validated by the
    caller); ``back``: the interface rung again if the number cannot be reached."""
    caller = _need_caller(f)
    if not (f.connected or f.held) or f.consult is not None:
        raise CallConflict(f"call is {f.state}: only a connected or held call can be transferred")
    out = []
    if context == BLIND_TRANSFER_CONTEXT:
        out.append(_a("Setvar", Channel=caller.name, Variable="CC_TRANSFER_BACK", Value=back or ""))
    out.append(_redirect(caller, context, exten))
    if f.held and f.agent is not None:
        out.append(_a("Hangup", Channel=f.agent.name))
    return out


def attended_transfer(f: CallFacts, number: str) -> list[AmiAction]:
    caller = _need_caller(f)
    if not f.connected or f.agent is None:
        raise CallConflict(f"call is {f.state}: an attended transfer starts from a connected call")
    return [
        # Whom the receptionist's leg bridges back to if the consultation cannot be placed.
        _a("Setvar", Channel=f.agent.name, Variable="CC_CONSULT_CALLER", Value=caller.name),
        _hold_caller(caller, f.agent, CONSULT_CONTEXT, number),
    ]


def attended_complete(f: CallFacts) -> list[AmiAction]:
    caller = _need_caller(f)
    if f.consult is None or f.agent is None:
        raise CallConflict(f"call is {f.state}: no consultation to complete")
    return [
        _a("Bridge", Channel1=caller.name, Channel2=f.consult.name, Tone="no"),
        _a("Hangup", Channel=f.agent.name),
    ]


def attended_cancel(f: CallFacts) -> list[AmiAction]:
    caller = _need_caller(f)
    if f.consult is None or f.agent is None:
        raise CallConflict(f"call is {f.state}: no consultation to cancel")
    return [
        _a("Hangup", Channel=f.consult.name),
        _a("Bridge", Channel1=f.agent.name, Channel2=caller.name, Tone="no"),
    ]


def park(f: CallFacts) -> list[AmiAction]:
    caller = _need_caller(f)
    if not (f.connected or f.held) or f.consult is not None:
        raise CallConflict(f"call is {f.state}: only a connected or held call can be parked")
    out = [_a("Park", Channel=caller.name, Parkinglot="default")]
    if f.held and f.agent is not None:
        out.append(_a("Hangup", Channel=f.agent.name))
    return out


def unpark(f: CallFacts, interface: str, name: str | None = None) -> list[AmiAction]:
    caller = _need_caller(f)
    if not f.parked:
        raise CallConflict(f"call is {f.state}: only a parked call can be retrieved from parking")
    return _to_receptionist(caller, interface, name)


def hangup(f: CallFacts) -> list[AmiAction]:
    """Hang the caller up. A caller still waiting in a queue is marked ``CC_OUTCOME=rejected``
    first: the service ended the call, the caller did not abandon it (stored as diverted)."""
    caller = _need_caller(f)
    out = []
    if f.phase in ("queued", "ringing") and not f.connected:
        out.append(_a("Setvar", Channel=caller.name, Variable="CC_OUTCOME", Value="rejected"))
    out.append(_a("Hangup", Channel=caller.name, Cause="16"))
    return out


def move(f: CallFacts, queue: str) -> list[AmiAction]:
    """A caller still waiting in a queue into ``queue`` (validated by the caller)."""
    caller = _need_caller(f)
    if f.phase not in ("queued", "ringing") or f.connected or f.parked:
        raise CallConflict(f"call is {f.state}: only a waiting caller can be moved to a queue")
    if f.queue == queue:
        raise CallConflict(f"the caller is already waiting in {queue}")
    return [_redirect(caller, QUEUE_CONTEXT, queue)]


def voicemail(f: CallFacts, box: str) -> list[AmiAction]:
    caller = _need_caller(f)
    if f.consult is not None:
        raise CallConflict("call is consulting: complete or cancel the transfer first")
    if caller.context == VOICEMAIL_CONTEXT:
        raise CallConflict("the caller is already in voicemail")
    out = [
        _a("Setvar", Channel=caller.name, Variable="CC_REASON", Value="receptionist"),
        _redirect(caller, VOICEMAIL_CONTEXT, box),
    ]
    if f.held and f.agent is not None:
        out.append(_a("Hangup", Channel=f.agent.name))
    return out
