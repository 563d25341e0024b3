"""Carry out call-control actions: facts from the live state, rules, AMI actions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from callcenter.pbx.ami.message import Message
from callcenter.phone.policy import (
    DestinationPolicy,
    DestinationRefused,
    FreeNumbers,
    policy_for,
)
from callcenter.state.live import LiveState
from callcontrol import rules
from callcontrol.rules import AmiAction, CallConflict, CallFacts

log = logging.getLogger(__name__)


class ControlError(Exception):
    """Refused request: ``status`` 400/404/409/422, ``error`` code and a clear detail;
    ``reason`` is the destination policy's code when it refused the number."""

    def __init__(self, status: int, error: str, detail: str, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.reason = status, error, detail, reason


class AmiApi(Protocol):
    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message: ...

    async def send_list_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None
    ) -> list[Message]: ...


class LiveView(Protocol):
    """What call control reads of the live state (:class:`LiveStateService`)."""

    @property
    def state(self) -> LiveState: ...

    async def until(self, check: Callable[[LiveState], bool], timeout: float) -> bool: ...


class TenantDirectory(Protocol):
    """What call control reads of a tenant (:class:`ivr.tenancy.Tenant`)."""

    def staff_member(self, staff_id: str) -> Any: ...

    @property
    def routing(self) -> Any: ...

    @property
    def dialling(self) -> DestinationPolicy | None: ...

    @property
    def home_region(self) -> str | None: ...


_FACTS_ONLY: dict[str, Callable[[CallFacts], list[AmiAction]]] = {
    "hold": rules.hold,
    "retrieve": rules.retrieve,
    "attended-complete": rules.attended_complete,
    "attended-cancel": rules.attended_cancel,
    "park": rules.park,
    "hangup": rules.hangup,
}
"""Actions whose plan follows from the call's facts alone."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a transfer goes: dialplan context and extension, and what it is."""

    context: str
    exten: str
    kind: str  # staff, number, queue
    label: str


class CallControl:
    """Validates and performs receptionist actions on live calls."""

    def __init__(
        self,
        ami: AmiApi,
        live: LiveView,
        tenants: Callable[[str], TenantDirectory | None],
        *,
        region: str = "DE",
        free_numbers: FreeNumbers = "supervisor",
        max_call_seconds: int = 3600,
        settle: float = 3.0,
    ) -> None:
        self.ami = ami
        self.live = live
        self._tenants = tenants
        self.region = region
        self.free_numbers: FreeNumbers = free_numbers
        self.max_call_seconds = max_call_seconds
        # At most this long for the PBX's events of a step (a hold, a hung-up consultation)
        # to reach the live state before the next step is refused.
        self.settle = settle

    async def parked_channels(self) -> set[str]:
        events = await self.ami.send_list_action("ParkedCalls")
        return {m.get("ParkeeChannel") or "" for m in events if m.name == "ParkedCall"}

    async def facts(self, linkedid: str) -> CallFacts | None:
        state = self.live.state
        if linkedid not in state.calls:
            return None
        return rules.facts_of(state, linkedid, await self.parked_channels())

    def policy(self, tenant: TenantDirectory | None) -> DestinationPolicy:
        """The tenant's destination policy with the app's defaults and call-length limit."""
        return policy_for(
            tenant,
            region=self.region,
            free_numbers=self.free_numbers,
            max_call_seconds=self.max_call_seconds,
        )

    def target(
        self,
        facts: CallFacts,
        body: Mapping[str, Any],
        *,
        queues: bool,
        privileged: bool = False,
    ) -> Target:
        """The transfer target named in ``body`` (staff id, queue, or number), validated.

        Every number passes the tenant's destination policy; a typed ``number`` is
        free-form (supervisors only by default, see :mod:`callcenter.phone.policy`)."""
        tenant = self._tenants(facts.tenant or "") if facts.tenant else None
        # An empty field counts as absent, both in the count and in the checks below.
        staff, queue, number = (body.get(k) or None for k in ("staff", "queue", "number"))
        given = [k for k, v in (("staff", staff), ("queue", queue), ("number", number)) if v]
        if len(given) != 1:
            raise ControlError(
                400,
                "invalid_request",
                "give exactly one target: staff (id)"
                + (", queue" if queues else "")
                + " or number (E.164)",
            )
        if staff is not None:
            if tenant is None or not isinstance(staff, str):
                raise ControlError(404, "not_found", f"staff: no staff member {staff!r}")
            member = tenant.staff_member(staff)
            if member is None:
                raise ControlError(
                    404, "not_found", f"staff: {staff!r} is not in the tenant's staff directory"
                )
            e164 = self._number(tenant, member.number, free_form=False, privileged=privileged)
            return Target(rules.BLIND_TRANSFER_CONTEXT, e164, "staff", member.name)
        if queue is not None:
            if not queues:
                raise ControlError(400, "invalid_request", "queue: not a target for this action")
            names = {q.name for q in tenant.routing.queues} if tenant is not None else set()
            if not isinstance(queue, str) or queue not in names:
                raise ControlError(
                    404, "not_found", f"queue: {queue!r} is not a queue of this call's tenant"
                )
            return Target(rules.QUEUE_CONTEXT, queue, "queue", queue)
        if not isinstance(number, str):
            raise ControlError(400, "invalid_request", "number: must be a string")
        e164 = self._number(tenant, number, free_form=True, privileged=privileged)
        return Target(rules.BLIND_TRANSFER_CONTEXT, e164, "number", e164)

    def _number(
        self, tenant: TenantDirectory | None, raw: str, *, free_form: bool, privileged: bool
    ) -> str:
        try:
            dest = self.policy(tenant).check(raw, free_form=free_form, privileged=privileged)
        except DestinationRefused as exc:
            raise ControlError(
                422, "destination_refused", f"number: {exc.detail}", exc.reason.value
            ) from None
        return dest.e164

    async def perform(
        self,
        facts: CallFacts,
        action: str,
        body: Mapping[str, Any],
        interface: str | None,
        *,
        privileged: bool = False,
        agent_name: str | None = None,
    ) -> dict[str, Any]:
        """Check ``action`` against ``facts`` and carry it out; returns a summary.

        ``privileged``: a supervisor or admin asks (typed numbers, see :meth:`target`);
        ``agent_name``: the name of the position a pickup or unpark rings (``interface``)."""
        if action == "retrieve" and facts.held:
            facts = await self._hold_settled(facts)
        elif action in _NEEDS_CONNECTED and _between(facts):
            facts = await self._reconnected(facts)
        try:
            plan, extra, route = self._plan(
                facts, action, body, interface, privileged=privileged, agent_name=agent_name
            )
        except CallConflict as exc:
            raise ControlError(409, "conflict", str(exc)) from None
        if route is not None:
            await self._check_route(route)
        await self._run(plan)
        return {"linkedid": facts.linkedid, "action": action, "was": facts.state, **extra}

    def _plan(
        self,
        facts: CallFacts,
        action: str,
        body: Mapping[str, Any],
        interface: str | None,
        *,
        privileged: bool,
        agent_name: str | None,
    ) -> tuple[list[AmiAction], dict[str, Any], Target | None]:
        """The AMI actions of ``action``, what the summary adds, and a transfer's target
        (checked for a route out before anything moves)."""
        facts_only = _FACTS_ONLY.get(action)
        if facts_only is not None:
            return facts_only(facts), {}, None
        if action in ("pickup", "unpark"):
            if not interface:
                raise ControlError(409, "conflict", "no phone: your user has no agent interface")
            ring = rules.pickup if action == "pickup" else rules.unpark
            return ring(facts, interface, agent_name), {}, None
        if action in ("transfer", "attended-transfer"):
            blind = action == "transfer"
            target = self.target(facts, body, queues=blind, privileged=privileged)
            if blind:
                back = facts.agent_interface or interface
                plan = rules.blind_transfer(facts, target.context, target.exten, back)
            else:
                plan = rules.attended_transfer(facts, target.exten)
            return plan, {"target": target.label, "kind": target.kind}, target
        if action == "voicemail":
            return rules.voicemail(facts, self._mailbox(facts, body)), {}, None
        if action == "move":
            if not privileged:
                raise ControlError(403, "forbidden", "move: supervisors and admins only")
            target = self.target(facts, body, queues=True, privileged=privileged)
            if target.kind != "queue":
                raise ControlError(400, "invalid_request", "queue: required to move a call")
            return (
                rules.move(facts, target.exten),
                {"target": target.label, "kind": target.kind},
                None,
            )
        raise ControlError(
            404, "not_found", f"no action {action!r}; known: {', '.join(rules.ACTIONS)}"
        )

    async def _check_route(self, target: Target) -> None:
        """Refuse a transfer that cannot be placed before anything moves (issue #8): the
        number must have a route out (a test route, the transfer trunk or a trunk route of
        ``lines``), else the caller would hear congestion and be dropped."""
        if target.kind == "queue" or await self.routable(target.exten):
            return
        raise ControlError(
            409,
            "no_route",
            f"cannot transfer to {target.label}: no trunk or route for {target.exten} "
            "(agents.transfer_trunk or a trunk of the lines file); the caller stays with you",
        )

    async def routable(self, number: str) -> bool:
        """The dialplan ``cc-transfer`` has somewhere to send ``number``: a ``cc-transfer-sim``
        route (tests), the global ``CC_TRANSFER_TRUNK`` or a ``cc-outbound-routes`` trunk."""
        for variable in (
            f"DIALPLAN_EXISTS(cc-transfer-sim,{number},1)",
            "CC_TRANSFER_TRUNK",
            f"DIALPLAN_EXISTS(cc-outbound-routes,{number},1)",
        ):
            msg = await self.ami.send_action("Getvar", {"Variable": variable})
            value = (msg.get("Value") or "").strip()
            if value not in ("", "0", "(null)"):
                return True
        return False

    def _mailbox(self, facts: CallFacts, body: Mapping[str, Any]) -> str:
        tenant = self._tenants(facts.tenant or "") if facts.tenant else None
        box = tenant.routing.voicemail_box if tenant is not None else ""
        if not box:
            raise ControlError(409, "conflict", "the call's tenant has no voicemail box")
        return str(box)

    async def _run(self, plan: list[AmiAction]) -> None:
        for i, step in enumerate(plan):
            if step.name == "Bridge" and i > 0 and plan[i - 1].name == "Hangup":
                # Cancelled consultation: the receptionist's Dial() must have returned
                # (leg back in cc-agent-wait) before the leg can be bridged again.
                await self._agent_back(dict(step.headers)["Channel1"])
            msg = await self.ami.send_action(step.name, dict(step.headers))
            if msg.get("Response") != "Success":
                raise ControlError(
                    409,
                    "conflict",
                    f"the PBX refused {step.name}: {msg.get('Message')} (the call changed?)",
                )

    async def _reconnected(self, facts: CallFacts) -> CallFacts:
        """The facts once an answered call is back in one bridge with its receptionist. Right
        after a retrieve or an unpark the live view already says "answered" while the caller
        is still on its way into that bridge; an action clicked then would be refused as "call
        is answered" for a moment that the receptionist cannot see."""

        def settled(state: LiveState) -> bool:
            now = rules.facts_of(state, facts.linkedid)
            return now is None or not _between(now)

        await self.live.until(settled, self.settle)
        return await self.facts(facts.linkedid) or facts

    async def _hold_settled(self, facts: CallFacts) -> CallFacts:
        """The facts once the receptionist's leg of a hold has arrived: in cc-agent-wait and
        out of the bridge it shared with the caller. The caller's events of a hold can reach
        the live state before that leg's, and a Bridge sent in between is refused by the PBX
        ("Unable to add Channel1 to bridge")."""

        def settled(state: LiveState) -> bool:
            now = rules.facts_of(state, facts.linkedid)
            return now is None or not now.held or now.agent is None or rules.waiting(now.agent)

        await self.live.until(settled, self.settle)
        return rules.facts_of(self.live.state, facts.linkedid) or facts

    async def _agent_back(self, channel: str) -> None:
        def back(state: LiveState) -> bool:
            legs = state.channels.by_id.values()
            return any(c.name == channel and rules.waiting(rules.leg_of(c)) for c in legs)

        await self.live.until(back, self.settle)


# Actions on a call that talks (or is held); asked for in between, they wait for the bridge.
_NEEDS_CONNECTED = frozenset({"hold", "park", "transfer", "attended-transfer"})


def _between(f: CallFacts) -> bool:
    """Answered, but the caller is in no bridge with the receptionist, nor held, parked or
    in a consultation: a retrieve or unpark under way."""
    return (
        f.phase == "answered"
        and f.caller is not None
        and not (f.connected or f.held or f.parked or f.consult is not None)
    )
