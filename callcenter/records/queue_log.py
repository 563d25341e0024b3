"""``queue_log`` lines: a pure parser and a tail that reads whole new lines from a file.

A line is ``epoch|callid|queuename|agent|event|data1|data2|…``. Asterisk appends whole
lines, but a reader may catch one half-written: :func:`split_complete` keeps an unfinished
tail for the next round. Fields beyond ``data5`` stay in ``data5`` joined by ``|`` (as
Asterisk's realtime back-end does).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DATA_FIELDS = 5


class QueueLogError(ValueError):
    """A line that is not a queue_log line; the message quotes it."""


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    """One parsed line; ``data`` has exactly :data:`DATA_FIELDS` entries ("" if absent)."""

    time: datetime
    callid: str
    queuename: str
    agent: str
    event: str
    data: tuple[str, ...]
    line_hash: str

    def field(self, n: int) -> str:
        """``data<n>`` (1-based), "" if absent."""
        return self.data[n - 1]

    def number(self, n: int) -> float | None:
        """``data<n>`` as a number of seconds, None if empty or not a number."""
        try:
            return float(self.data[n - 1])
        except ValueError:
            return None


def parse_line(raw: str) -> QueueLogLine:
    """Parse one line (without its newline)."""
    parts = raw.split("|")
    if len(parts) < 5 or not parts[0].isdigit():
        raise QueueLogError(f"not a queue_log line: {raw[:120]!r}")
    data = parts[5 : 5 + DATA_FIELDS - 1]
    rest = parts[5 + DATA_FIELDS - 1 :]
    data.append("|".join(rest))
    data += [""] * (DATA_FIELDS - len(data))
    return QueueLogLine(
        time=datetime.fromtimestamp(int(parts[0]), tz=UTC),
        callid=parts[1],
        queuename=parts[2],
        agent=parts[3],
        event=parts[4],
        data=tuple(data),
        line_hash=hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest(),
    )


def split_complete(chunk: bytes) -> tuple[list[str], int]:
    """Whole lines in ``chunk`` and the number of bytes they take (the rest is unfinished)."""
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], 0
    text = chunk[: end + 1].decode("utf-8", errors="replace")
    return [line for line in text.split("\n") if line.strip()], end + 1


@dataclass(frozen=True, slots=True)
class TailRead:
    lines: list[QueueLogLine]
    skipped: int  # lines that did not parse
    offset: int  # where the next read starts


def read_from(path: Path, offset: int, limit: int = 4 << 20) -> TailRead:
    """Whole lines of ``path`` after byte ``offset`` (at most ``limit`` bytes of them).

    A file shorter than ``offset`` was rotated or recreated (a fresh PBX instance): it is
    read from the start; the table's unique line hash keeps lines seen before from doubling.
    A missing file reads as empty.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return TailRead([], 0, offset)
    if size < offset:
        offset = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        chunk = fh.read(limit)
    raw_lines, used = split_complete(chunk)
    lines: list[QueueLogLine] = []
    skipped = 0
    for raw in raw_lines:
        try:
            lines.append(parse_line(raw.rstrip("\r")))
        except QueueLogError:
            skipped += 1
    return TailRead(lines, skipped, offset + used)
