"""CallControl.target: exactly one transfer target, validated against the call's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from callcenter.callcontrol import rules
from callcenter.callcontrol.rules import CallFacts, Leg
from callcenter.callcontrol.service import CallControl, ControlError, Target
from callcenter.state.live import LiveState

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

    def staff_member(self, staff_id: str) -> Any:
        return Named("Dr. Weber", "+49 30 1234567") if staff_id == "weber" else None


def control(free_numbers: bool = True) -> CallControl:
    state = LiveState()
    return CallControl(
        None,  # type: ignore[arg-type]  # target() sends nothing
        lambda: state,
        lambda slug: Acme() if slug == "acme" else None,
        free_numbers=free_numbers,
    )


def test_each_kind_of_target() -> None:
    c = control()
    assert c.target(FACTS, {"staff": "weber"}, queues=True) == Target(
        rules.TRANSFER_CONTEXT, "+49301234567", "staff", "Dr. Weber"
    )
    assert c.target(FACTS, {"queue": "q-acme-en"}, queues=True) == Target(
        rules.QUEUE_CONTEXT, "q-acme-en", "queue", "q-acme-en"
    )
    assert c.target(FACTS, {"number": "089 1234567"}, queues=True) == Target(
        rules.TRANSFER_CONTEXT, "+49891234567", "number", "+49891234567"
    )


def test_an_empty_field_counts_as_absent() -> None:
    body = {"staff": "", "queue": None, "number": "+49 89 1234567"}
    assert control().target(FACTS, body, queues=True).kind == "number"


@pytest.mark.parametrize(
    ("body", "queues", "free", "status", "detail"),
    [
        ({}, True, True, 400, "give exactly one target"),
        ({"staff": "weber", "number": "+49891234567"}, True, True, 400, "exactly one"),
        ({"staff": "meier"}, True, True, 404, "not in the tenant's staff directory"),
        ({"queue": "q-other"}, True, True, 404, "not a queue of this call's tenant"),
        ({"queue": "q-acme"}, False, True, 400, "not a target for this action"),
        ({"number": "+49891234567"}, True, False, 400, "only staff transfers"),
        ({"number": "+49 900 1234567"}, True, True, 422, "premium-rate"),
        ({"number": 4989}, True, True, 400, "must be a string"),
    ],
)
def test_refused_targets_say_why(
    body: dict[str, Any], queues: bool, free: bool, status: int, detail: str
) -> None:
    with pytest.raises(ControlError) as info:
        control(free).target(FACTS, body, queues=queues)
    assert info.value.status == status and detail in info.value.detail
