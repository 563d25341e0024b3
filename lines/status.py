"""Trunk and phone status from AMI, as a pure tracker (messages in, snapshot out).

Rule of this module: the PBX is asked, never guessed. ``PJSIPShowEndpoints`` (on every AMI
connect and every poll) gives each endpoint's device state: ``Unavailable`` means no
reachable contact (a trunk whose carrier stopped answering OPTIONS, a phone that is not
registered). ``PJSIPShowRegistrationsOutbound`` gives our registrations at carriers.
Between polls, ``DeviceStateChange`` events keep the picture current; a ``Registry`` event
makes the service ask for the registrations again (it names the server, not the object).

The contacts' own qualify results count too (``ContactStatus`` events, and each trunk's
``PJSIPShowEndpoint`` on every poll): Asterisk 22 can keep an endpoint "Not in use" while
its only contact is Unreachable (seen after the endpoint was deleted and created again by
reloads), so an endpoint whose known contacts are all unreachable is down whatever its
device state says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from callcenter.pbx.ami.message import Message

UNAVAILABLE = frozenset({"unavailable", "invalid", "unknown"})
UNREACHABLE = frozenset({"unreachable", "unavailable"})


@dataclass(slots=True)
class LineState:
    """What is known about one PJSIP endpoint we generated (a trunk or a phone)."""

    endpoint: str
    kind: str  # "trunk" or "phone"
    device_state: str = "unknown"
    registration: str | None = None  # register-mode trunks: Registered, Rejected, …
    since: float = 0.0
    contacts: dict[str, str] = field(default_factory=dict)  # URI → qualify status

    @property
    def up(self) -> bool:
        reachable = self.device_state.lower() not in UNAVAILABLE
        if self.contacts and all(v.lower() in UNREACHABLE for v in self.contacts.values()):
            reachable = False
        if self.registration is not None:
            return reachable and self.registration.lower() == "registered"
        return reachable

    def as_dict(self) -> dict[str, object]:
        return {
            "endpoint": self.endpoint,
            "kind": self.kind,
            "up": self.up,
            "device_state": self.device_state,
            "contacts": dict(sorted(self.contacts.items())),
            "registration": self.registration,
            "since": self.since,
        }


class LineStatus:
    """Status of the trunks and phones the app provisioned."""

    def __init__(self) -> None:
        self.lines: dict[str, LineState] = {}
        self._registrations: dict[str, str] = {}  # registration object → endpoint

    def expect(self, endpoint: str, kind: str, registration: str | None = None) -> None:
        """Track ``endpoint`` (called whenever the generated configuration changes)."""
        if endpoint not in self.lines:
            self.lines[endpoint] = LineState(endpoint, kind)
        if registration is not None:
            self._registrations[registration] = endpoint
            if self.lines[endpoint].registration is None:
                self.lines[endpoint].registration = "Unregistered"

    def keep_only(self, endpoints: Iterable[str]) -> None:
        wanted = set(endpoints)
        self.lines = {k: v for k, v in self.lines.items() if k in wanted}
        self._registrations = {k: v for k, v in self._registrations.items() if v in wanted}

    def on_message(self, msg: Message, now: float) -> bool:
        """Apply one AMI event or list entry; True if a line's ``up`` changed."""
        event = msg.get("Event")
        if event == "EndpointList":
            return self._device(msg.get("ObjectName"), msg.get("DeviceState"), now)
        if event == "DeviceStateChange":
            device = msg.get("Device") or ""
            if device.startswith("PJSIP/"):
                return self._device(device[len("PJSIP/") :], msg.get("State"), now)
            return False
        if event == "OutboundRegistrationDetail":
            return self._registration(msg.get("ObjectName"), msg.get("Status"), now)
        if event == "ContactStatus":  # unsolicited: Created, Reachable, Unreachable, Removed …
            return self._contact(msg, msg.get("ContactStatus"), now)
        if event == "ContactStatusDetail":  # a PJSIPShowEndpoint answer
            return self._contact(msg, msg.get("Status"), now)
        return False

    def replace_contacts(self, endpoint: str, details: Iterable[Message], now: float) -> bool:
        """An endpoint's complete contact list (``PJSIPShowEndpoint``): forget the rest."""
        line = self.lines.get(endpoint)
        if line is None:
            return False
        was = line.up
        line.contacts = {
            m.get("URI") or "": m.get("Status") or ""
            for m in details
            if m.get("Event") == "ContactStatusDetail" and m.get("URI")
        }
        return self._changed(line, was, now)

    def _contact(self, msg: Message, status: str | None, now: float) -> bool:
        line = self.lines.get(msg.get("EndpointName") or "")
        uri = msg.get("URI")
        if line is None or not uri or status is None:
            return False
        was = line.up
        if status == "Removed":
            line.contacts.pop(uri, None)
        else:
            line.contacts[uri] = status
        return self._changed(line, was, now)

    def _device(self, endpoint: str | None, state: str | None, now: float) -> bool:
        line = self.lines.get(endpoint or "")
        if line is None or state is None:
            return False
        was = line.up
        line.device_state = state.replace("_", " ").title()
        return self._changed(line, was, now)

    def _registration(self, name: str | None, status: str | None, now: float) -> bool:
        line = self.lines.get(self._registrations.get(name or "", ""))
        if line is None or status is None:
            return False
        was = line.up
        line.registration = status
        return self._changed(line, was, now)

    @staticmethod
    def _changed(line: LineState, was: bool, now: float) -> bool:
        if line.up != was or not line.since:
            line.since = now
        return line.up != was

    def snapshot(self) -> dict[str, object]:
        """JSON-able picture: trunks and phones, each with ``up`` and what it is based on."""
        trunks = {k: v.as_dict() for k, v in sorted(self.lines.items()) if v.kind == "trunk"}
        phones = {k: v.as_dict() for k, v in sorted(self.lines.items()) if v.kind == "phone"}
        return {"trunks": trunks, "phones": phones}

    def down(self, kind: str) -> list[str]:
        return sorted(k for k, v in self.lines.items() if v.kind == kind and not v.up)
