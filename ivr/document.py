"""Typed access to a parsed tenant document that records faults instead of raising
(:class:`Doc`), shared by the parts of the tenant loader (:mod:`ivr.loader`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

import phonenumbers

from ivr.errors import ConfigFault, ConfigWarning

T = TypeVar("T")


class Doc:
    """Typed access to a parsed TOML document that records faults instead of raising."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.faults: list[ConfigFault] = []
        self.warnings: list[ConfigWarning] = []

    def fault(self, path: str, reason: str) -> None:
        self.faults.append(ConfigFault(self.file, path, reason))

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(ConfigWarning(self.file, path, reason))

    def get(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        kind: type[T] | tuple[type, ...],
        default: T | None = None,
        *,
        required: bool = False,
    ) -> T | None:
        full = f"{path}.{key}" if path else key
        if key not in table:
            if required:
                self.fault(full, "missing")
            return default
        value = table[key]
        # bool is an int in Python; a number where a flag is expected (or vice versa) is wrong.
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fault(full, f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return cast(T, value)

    def table(self, table: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        return self.get(table, key, path, dict, {}) or {}

    def str_list(
        self, table: dict[str, Any], key: str, path: str, default: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        value = self.get(table, key, path, list, None)
        if value is None:
            return default
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.fault(f"{path}.{key}.{i}", f"expected str, got {item!r}")
        return tuple(out)

    def unknown_keys(self, table: dict[str, Any], allowed: Iterable[str], path: str) -> None:
        allowed = frozenset(allowed)
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                self.fault(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def e164(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.fault(path, f"expected a phone number string, got {value!r}")
            return None
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            self.fault(path, f"not an international number (+country…): {value!r}: {exc}")
            return None
        if not phonenumbers.is_possible_number(parsed):
            self.fault(path, f"not a possible phone number: {value!r}")
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
