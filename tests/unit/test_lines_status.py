"""Line status from AMI messages (lines.status)."""

from __future__ import annotations

from callcenter.pbx.ami.message import Message
from lines.status import LineStatus


def _msg(**headers: str) -> Message:
    return Message(tuple(headers.items()))


def _device(endpoint: str, state: str) -> Message:
    return _msg(Event="EndpointList", ObjectName=endpoint, DeviceState=state)


def _change(device: str, state: str) -> Message:
    return _msg(Event="DeviceStateChange", Device=device, State=state)


def test_phone_registers_and_unregisters() -> None:
    status = LineStatus()
    status.expect("anna", "phone")
    assert status.down("phone") == ["anna"]
    assert status.on_message(_device("anna", "Not in use"), 1.0)
    assert status.down("phone") == []
    changed = status.on_message(_change("PJSIP/anna", "UNAVAILABLE"), 2.0)
    assert changed and status.lines["anna"].since == 2.0
    assert status.snapshot()["phones"] == {
        "anna": {
            "endpoint": "anna",
            "kind": "phone",
            "up": False,
            "device_state": "Unavailable",
            "registration": None,
            "since": 2.0,
        }
    }


def test_registration_trunk_needs_both_registration_and_reachability() -> None:
    status = LineStatus()
    status.expect("trunk-a", "trunk", "trunk-a-reg")
    status.on_message(_device("trunk-a", "Not in use"), 1.0)
    assert status.down("trunk") == ["trunk-a"]  # not registered yet
    status.on_message(
        _msg(Event="OutboundRegistrationDetail", ObjectName="trunk-a-reg", Status="Registered"), 2.0
    )
    assert status.down("trunk") == []
    status.on_message(
        _msg(Event="OutboundRegistrationDetail", ObjectName="trunk-a-reg", Status="Rejected"), 3.0
    )
    assert status.down("trunk") == ["trunk-a"]


def test_unknown_endpoints_and_devices_are_ignored() -> None:
    status = LineStatus()
    status.expect("anna", "phone")
    assert not status.on_message(_change("Custom:agent1", "INUSE"), 1.0)
    assert not status.on_message(_device("bob", "Not in use"), 1.0)
    status.keep_only([])
    assert status.snapshot() == {"trunks": {}, "phones": {}}
