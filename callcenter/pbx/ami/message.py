"""The AMI message value type shared by the protocol core, the client and the state machines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["event", "response", "other"]


@dataclass(frozen=True, slots=True)
class Message:
    """One AMI message: ordered headers, repeated keys kept (``ChanVariable``, ``Output``).

    Keys compare case-insensitively, as Asterisk itself treats them.
    """

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of ``key`` (case-insensitive), or ``default``."""
        k = key.lower()
        for name, value in self.headers:
            if name.lower() == k:
                return value
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated header, in order."""
        k = key.lower()
        return [value for name, value in self.headers if name.lower() == k]

    @property
    def kind(self) -> Kind:
        if not self.headers:
            return "other"
        first = self.headers[0][0].lower()
        if first == "event":
            return "event"
        if first == "response":
            return "response"
        return "other"

    @property
    def name(self) -> str:
        """Event name for events, the ``Response`` value for responses."""
        return self.headers[0][1] if self.headers else ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def variables(self) -> dict[str, str]:
        """``ChanVariable``/``Variable`` headers of the form ``name=value`` as a dict."""
        out: dict[str, str] = {}
        for key in ("ChanVariable", "Variable"):
            for item in self.get_all(key):
                name, sep, value = item.partition("=")
                if sep:
                    out[name] = value
        return out

    @classmethod
    def of(cls, *pairs: tuple[str, str], **kw: str) -> Message:
        """Build a message in tests: ``Message.of(("Event", "Hangup"), Channel="...")``."""
        return cls(tuple(pairs) + tuple(kw.items()))
