"""CallControl.target: exactly one transfer target, validated against the call's tenant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.phone.policy import DestinationPolicy, FreeNumbers
from callcenter.state.live import LiveState
from callcontrol import rules
from callcontrol.rules import CallFacts, Leg
from callcontrol.service import CallControl, ControlError, Target

FACTS = CallFacts(
    "c1", "acme", "answered", "q-acme", Leg("c1", "PJSIP/t-1", "", "b1"), None, None, False
)


@dataclass(frozen=True)
class Named:
    name: str
    number: str = ""


@dataclass(frozen=True)
class Routing:
    queues: tuple[Named, ...]


class Acme:
    routing = Routing((Named("q-acme"), Named("q-acme-en")))
    dialling: DestinationPolicy | None = None
    home_region: str | None = "DE"

    def staff_member(self, staff_id: str) -> Any:
        if staff_id == "weber":
            return Named("Dr. Weber", "+49 30 1234567")
        if staff_id == "sat":  # a tenant file's staff number is checked as strictly
            return Named("Satellite Sam", "+881 6 12345678")
        return None


class _Live:
    """The live state as call control reads it; target() waits for nothing."""

    def __init__(self, state: LiveState) -> None:
        self.state = state

    async def until(self, check: Callable[[LiveState], bool], timeout: float) -> bool:
        return check(self.state)


def control(free_numbers: FreeNumbers = "supervisor", tenant: Any = None) -> CallControl:
    state = LiveState()
    acme = tenant or Acme()
    return CallControl(
        None,  # type: ignore[arg-type]  # target() sends nothing
        _Live(state),
        lambda slug: acme if slug == "acme" else None,
        free_numbers=free_numbers,
    )


def test_each_kind_of_target() -> None:
    c = control()
    assert c.target(FACTS, {"staff": "weber"}, queues=True) == Target(
        rules.BLIND_TRANSFER_CONTEXT, "+49301234567", "staff", "Dr. Weber"
    )
    assert c.target(FACTS, {"queue": "q-acme-en"}, queues=True) == Target(
        rules.QUEUE_CONTEXT, "q-acme-en", "queue", "q-acme-en"
    )
    assert c.target(FACTS, {"number": "089 1234567"}, queues=True, privileged=True) == Target(
        rules.BLIND_TRANSFER_CONTEXT, "+49891234567", "number", "+49891234567"
    )


def test_an_empty_field_counts_as_absent() -> None:
    body = {"staff": "", "queue": None, "number": "+49 89 1234567"}
    assert control("on").target(FACTS, body, queues=True).kind == "number"


@pytest.mark.parametrize(
    ("body", "queues", "free", "status", "detail"),
    [
        ({}, True, "on", 400, "give exactly one target"),
        ({"staff": "weber", "number": "+49891234567"}, True, "on", 400, "exactly one"),
        ({"staff": "meier"}, True, "on", 404, "not in the tenant's staff directory"),
        ({"queue": "q-other"}, True, "on", 404, "not a queue of this call's tenant"),
        ({"queue": "q-acme"}, False, "on", 400, "not a target for this action"),
        ({"number": "+49891234567"}, True, "off", 422, "only staff members"),
        ({"number": "+49891234567"}, True, "supervisor", 422, "only supervisors"),
        ({"number": "+49 900 1234567"}, True, "on", 422, "premium-rate"),
        ({"number": 4989}, True, "on", 400, "must be a string"),
    ],
)
def test_refused_targets_say_why(
    body: dict[str, Any], queues: bool, free: FreeNumbers, status: int, detail: str
) -> None:
    with pytest.raises(ControlError) as info:
        control(free).target(FACTS, body, queues=queues)
    assert info.value.status == status and detail in info.value.detail


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+881 6 12345678", "international_network"),
        ("+870 772 123456", "international_network"),
        ("+882 1234 5678", "international_network"),
        ("+53 7 8661234", "country"),
        ("+252 1 234567", "country"),
        ("+239 222 1234", "country"),
        ("+44 70 1234 5678", "personal"),  # type is checked before the country
        ("0700 12345678", "personal"),
        ("112", "emergency"),
    ],
)
def test_toll_fraud_destinations_are_refused_even_for_supervisors(number: str, reason: str) -> None:
    """The security report's list: each was answered 200 and dialled on the old main."""
    for action_queues in (True, False):  # blind and attended transfer
        with pytest.raises(ControlError) as info:
            control("on").target(FACTS, {"number": number}, queues=action_queues, privileged=True)
        assert (info.value.status, info.value.error) == (422, "destination_refused")
        assert info.value.reason == reason


def test_staff_numbers_pass_the_policy_too() -> None:
    with pytest.raises(ControlError) as info:
        control().target(FACTS, {"staff": "sat"}, queues=True)
    assert info.value.reason == "international_network"


def test_the_tenants_own_countries() -> None:
    tenant = Acme()
    tenant.dialling = DestinationPolicy.for_country("DE", also=frozenset({"GB"}))
    c = control(tenant=tenant)
    target = c.target(FACTS, {"number": "+44 20 7946 0018"}, queues=True, privileged=True)
    assert target.exten == "+442079460018"
    tenant.home_region = "AT"
    tenant.dialling = None
    with pytest.raises(ControlError) as info:
        control(tenant=tenant).target(FACTS, {"staff": "weber"}, queues=True)
    assert info.value.reason == "country"  # an Austrian tenant's default: Austria only
