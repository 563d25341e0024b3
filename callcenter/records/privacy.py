"""The PBX's own files in a contact's privacy export and erasure (a ``crm.privacy`` store,
registered by the composition root; duck-typed so that the core imports no feature).

Asterisk writes the caller's number into files the app can reach when the PBX is local
(the sandbox instance, or ``pbx.queue_log_path`` for a mounted one):

* ``queue_log``: ``CC_START``/``CC_END`` and ``ENTERQUEUE`` carry the caller id;
* ``messages`` (notices, warnings, errors) and ``asterisk.out`` may quote it;
* ``spool/recording``: a voicemail recording not yet fetched into the database;
* ``spool/voicemail/<tenant>/<box>/<folder>/msgNNNN.txt`` (+ ``.wav`` …): a message
  app_voicemail took when the app's own voicemail could not (the fallback); its ``.txt``
  holds the caller id.

Erasure masks every form of the numbers in the log files *in place* with ``x`` of the same
length: Asterisk keeps appending to the same file and the queue_log reader keeps its byte
offset (``pbx_record_cursors``), so no line moves. Only whole lines are touched (a line
being written at the end is left for Asterisk). Recordings named by the erasure (the
voicemail store) are deleted, and so are app_voicemail's messages whose ``.txt`` names one
of the numbers (every file of the message). A PBX on another host keeps its own files: see
docs/security.md (privacy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.phone.numbers import mask_numbers, number_forms


class ErasureTraces(Protocol):
    """What :mod:`crm.privacy` hands to ``erase_traces`` (its ``Traces``)."""

    forms: tuple[str, ...]
    recordings: list[str]

    def mask(self, text: str) -> str: ...


class PbxFiles:
    """``queue_log``, the PBX's log files and its recordings directory."""

    name = "pbx_files"
    phase = 1  # after every other store: the voicemail store names its recordings first

    def __init__(
        self,
        logs: Sequence[Path],
        recordings_dir: Path | None = None,
        voicemail_spool: Path | None = None,
        *,
        max_bytes: int = 1 << 31,
    ) -> None:
        self.logs = tuple(logs)
        self.recordings_dir = recordings_dir
        self.voicemail_spool = voicemail_spool
        self.max_bytes = max_bytes

    def spool_messages(self, mask: Any) -> list[Path]:
        """app_voicemail's ``msgNNNN.txt`` files that ``mask`` would change."""
        if self.voicemail_spool is None or not self.voicemail_spool.is_dir():
            return []
        found = []
        for txt in sorted(self.voicemail_spool.rglob("msg*.txt")):
            try:
                text = txt.read_text(errors="replace")
            except OSError:
                continue
            if mask(text) != text:
                found.append(txt)
        return found

    async def export(
        self, session: AsyncSession, tenant_id: int, contact_id: int, numbers: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The log lines that quote one of the numbers (as E.164 or without ``+``)."""
        forms = sorted({f for n in numbers for f in number_forms(n)}, key=len)[::-1]
        if not forms:
            return []
        out: list[dict[str, Any]] = []
        for txt in self.spool_messages(lambda text: mask_numbers(text, forms)):
            relative = txt.relative_to(self.voicemail_spool) if self.voicemail_spool else txt
            out.append({"file": f"voicemail/{relative}", "text": txt.read_text(errors="replace")})
        for path in self.logs:
            if not path.is_file():
                continue
            with path.open("rb") as f:
                for raw in f:
                    line = raw.decode("utf-8", errors="replace").rstrip("\n")
                    if any(re.search(r"(?<!\d)" + re.escape(x) + r"(?!\d)", line) for x in forms):
                        out.append({"file": path.name, "line": line})
        return out

    async def erase(
        self,
        session: AsyncSession,
        tenant_id: int | None,
        contact_id: int,
        numbers: Sequence[str],
    ) -> dict[str, int]:
        return {}  # everything happens in erase_traces, once every store named its files

    async def erase_traces(self, session: AsyncSession, traces: ErasureTraces) -> dict[str, int]:
        lines = sum(mask_file(path, traces.mask, self.max_bytes) for path in self.logs)
        removed = 0
        if self.recordings_dir is not None and self.recordings_dir.is_dir():
            for name in traces.recordings:
                if not name or "/" in name or name.startswith("."):
                    continue
                for file in self.recordings_dir.glob(glob_escape(name) + ".*"):
                    file.unlink(missing_ok=True)
                    removed += 1
        messages = 0
        for txt in self.spool_messages(traces.mask):
            for file in txt.parent.glob(glob_escape(txt.stem) + ".*"):
                file.unlink(missing_ok=True)
            messages += 1
        return {
            "pbx_log_lines_masked": lines,
            "pbx_recordings_deleted": removed,
            "pbx_voicemail_messages_deleted": messages,
        }


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def mask_file(path: Path, mask: Any, max_bytes: int = 1 << 31) -> int:
    """Rewrite, in place and at the same length, every whole line of ``path`` that ``mask``
    changes; returns how many. A missing file is 0 lines."""
    if not path.is_file() or path.stat().st_size > max_bytes:
        return 0
    changed = 0
    with path.open("r+b") as f:
        edits: list[tuple[int, bytes]] = []
        offset = 0
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # being written
            text = raw.decode("utf-8", errors="surrogateescape")
            masked = mask(text)
            if masked != text:
                data = masked.encode("utf-8", errors="surrogateescape")
                if len(data) == len(raw):
                    edits.append((offset, data))
            offset += len(raw)
        for at, data in edits:
            f.seek(at)
            f.write(data)
            changed += 1
        f.flush()
    return changed
