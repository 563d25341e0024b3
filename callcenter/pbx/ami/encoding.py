"""Actions to bytes (sans-IO): user text never adds a line or a header."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence


class HeaderInjectionError(ValueError):
    """A header key or value would break out of its line (CR, LF, NUL) or its key (``:``)."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"AMI header {header!r}: {reason}")
        self.header = header
        self.reason = reason


_FORBIDDEN = ("\r", "\n", "\x00")

HeaderValues = Mapping[str, "str | Sequence[str]"] | Iterable[tuple[str, str]]


def _check(key: str, value: str) -> None:
    if not key:
        raise HeaderInjectionError(key, "empty header name")
    for ch in _FORBIDDEN:
        if ch in key:
            raise HeaderInjectionError(key, f"name contains {ch!r}")
        if ch in value:
            raise HeaderInjectionError(key, f"value contains {ch!r} (possible command injection)")
    if ":" in key:
        raise HeaderInjectionError(key, "name contains ':'")
    if key != key.strip():
        raise HeaderInjectionError(key, "name has leading or trailing blanks")


def _pairs(headers: HeaderValues | None) -> Iterator[tuple[str, str]]:
    if headers is None:
        return
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(value, str):
                yield key, value
            else:
                for item in value:
                    yield key, item
    else:
        yield from headers


def encode_action(
    name: str, headers: HeaderValues | None = None, action_id: str | None = None
) -> bytes:
    """Bytes of one action. Repeated headers: a sequence value or repeated pairs.

    Raises :class:`HeaderInjectionError` (naming the header) before anything is built when a
    key or value holds CR, LF or NUL, or a key holds ``:`` — user text must never add lines.
    """
    _check("Action", name)
    lines = [f"Action: {name}"]
    if action_id is not None:
        _check("ActionID", action_id)
        lines.append(f"ActionID: {action_id}")
    for key, value in _pairs(headers):
        if not isinstance(value, str):
            raise TypeError(f"AMI header {key!r}: value must be str, got {type(value).__name__}")
        _check(key, value)
        lines.append(f"{key}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")
