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
            "contacts": {},
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


def _detail(uri: str, status: str) -> Message:
    return _msg(Event="ContactStatusDetail", AOR="trunk-a", URI=uri, Status=status)


def test_a_trunk_whose_contacts_are_all_unreachable_is_down_whatever_its_device_state() -> None:
    """Asterisk 22 kept an endpoint "Not in use" with its only contact Unreachable (after
    the endpoint was deleted and created again by reloads): the contacts decide."""
    status = LineStatus()
    status.expect("trunk-a", "trunk")
    status.on_message(_device("trunk-a", "Not in use"), 1.0)
    assert status.lines["trunk-a"].up
    event = _msg(
        Event="ContactStatus",
        URI="sip:127.0.0.1:5060",
        ContactStatus="Unreachable",
        AOR="trunk-a",
        EndpointName="trunk-a",
    )
    assert status.on_message(event, 2.0)
    assert status.down("trunk") == ["trunk-a"]
    assert status.lines["trunk-a"].device_state == "Not In Use"
    back = _msg(
        Event="ContactStatus",
        URI="sip:127.0.0.1:5060",
        ContactStatus="Reachable",
        AOR="trunk-a",
        EndpointName="trunk-a",
    )
    assert status.on_message(back, 3.0)
    assert status.down("trunk") == []


def test_a_poll_replaces_the_contact_list_and_one_reachable_contact_keeps_it_up() -> None:
    status = LineStatus()
    status.expect("trunk-a", "trunk")
    status.on_message(_device("trunk-a", "Not in use"), 1.0)
    detail = [
        _msg(Event="EndpointDetail", ObjectName="trunk-a", DeviceState="Not in use"),
        _detail("sip:a", "Unreachable"),
        _detail("sip:b", "Reachable"),
    ]
    assert not status.replace_contacts("trunk-a", detail, 2.0)
    assert status.lines["trunk-a"].up
    assert status.replace_contacts("trunk-a", [_detail("sip:a", "Unreachable")], 3.0)
    assert status.lines["trunk-a"].contacts == {"sip:a": "Unreachable"}
    assert status.down("trunk") == ["trunk-a"]
    removed = _msg(
        Event="ContactStatus", URI="sip:a", ContactStatus="Removed", EndpointName="trunk-a"
    )
    assert status.on_message(removed, 4.0)  # no contact known: the device state decides
    assert status.down("trunk") == []
    assert not status.replace_contacts("nobody", [], 5.0)
