"""Line numbers for dotted paths in a TOML document (``flows.main.prompts.0`` → 42).

tomllib keeps no positions, so the text is scanned once: table headers (``[a.b]``, and
``[[a]]`` counted per array so the n-th one is ``a.n``) and ``key =`` lines give the line of
every path that is spelled out; a fault's path maps to its longest such prefix (an element of
an inline array points at the array's key).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in dotted.split("."))


def line_index(text: str) -> dict[tuple[str, ...], int]:
    """Path → 1-based line for every header and key of ``text``."""
    index: dict[tuple[str, ...], int] = {}
    arrays: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            name = _parts(header.group(2))
            if header.group(1) == "[[":
                n = arrays.get(name, -1) + 1
                arrays[name] = n
                table = (*name, str(n))
                index.setdefault(name, number)
            else:
                table = name
            index.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key and not line.lstrip().startswith("#"):
            index.setdefault((*table, *_parts(key.group(1))), number)
    return index


def line_of(index: dict[tuple[str, ...], int], path: str) -> int | None:
    """The line of ``path`` or of its longest spelled-out prefix; None for the document."""
    parts = tuple(p for p in path.split(".") if p)
    while parts:
        if parts in index:
            return index[parts]
        parts = parts[:-1]
    return None
