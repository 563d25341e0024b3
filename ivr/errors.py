"""Configuration faults with an exact location: file, path inside the document, reason.

The loader collects every fault of a file before raising, so that one run of the check
shows all that is wrong instead of the first problem only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ConfigFault(ValueError):
    """One thing wrong in a tenant file.

    ``path`` is the dotted location inside the TOML document (``flows.main.options.3``);
    ``file`` is the file it came from (or ``<memory>`` for documents parsed from strings).
    """

    def __init__(self, file: str, path: str, reason: str, line: int | None = None) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        self.line = line  # 1-based line in the file, where the loader could tell
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path or '<document>'}: {reason}")

    def at_line(self, line: int | None) -> ConfigFault:
        return ConfigFault(self.file, self.path, self.reason, line)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigFault):
            return NotImplemented
        return (self.file, self.path, self.reason) == (other.file, other.path, other.reason)

    def __hash__(self) -> int:
        return hash((self.file, self.path, self.reason))


class ConfigFaults(ValueError):
    """All faults found in one or more files; raised by the loader if any were found."""

    def __init__(self, faults: Sequence[ConfigFault]) -> None:
        self.faults = tuple(faults)
        lines = "\n".join(f"  {fault}" for fault in self.faults)
        super().__init__(f"{len(self.faults)} configuration fault(s):\n{lines}")


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """Something legal but suspicious (an unreachable node, merged overlapping intervals)."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"
