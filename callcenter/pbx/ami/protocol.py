"""Sans-IO core of the Asterisk Manager Interface: bytes in, :class:`Message` out; actions out.

Rule of this module: no sockets, no clocks, no asyncio. The asyncio client feeds whatever
bytes the socket delivered into :class:`AmiParser` and pulls events with ``next_event()``;
it turns actions into bytes with :func:`encode_action` (:mod:`~callcenter.pbx.ami.encoding`)
and pairs answers with their actions through the pure :class:`ActionTracker`
(:mod:`~callcenter.pbx.ami.tracker`); both are re-exported here.

Wire format (Asterisk 22, checked on recorded transcripts in tests/fixtures/ami):

- one greeting line ``Asterisk Call Manager/11.0.0\\r\\n`` right after connect;
- then messages of ``Key: Value`` lines ending with a blank line (CRLF; a bare LF is
  tolerated); keys repeat (``Output``, ``ChanVariable``) and stay in order;
- the value starts after the first ``:`` and its leading blanks, as Asterisk's own
  ``astman_get_header`` reads it; trailing blanks are part of the value;
- old servers answer ``Command`` with ``Response: Follows`` and raw output lines ending in
  ``--END COMMAND--``; those lines are turned into ``Output`` headers, as Asterisk 22 sends.

Frames are cut on bytes and decoded as UTF-8 only once complete, so a multi-byte
character split across TCP reads survives.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields
from itertools import repeat

from callcenter.pbx.ami.encoding import HeaderInjectionError, HeaderValues, encode_action
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.tracker import ActionResult, ActionTracker

__all__ = [
    "GREETING_PREFIX",
    "MAX_FRAME",
    "ActionResult",
    "ActionTracker",
    "AmiParser",
    "BadFrame",
    "Greeting",
    "HeaderInjectionError",
    "HeaderValues",
    "ParserEvent",
    "encode_action",
]

GREETING_PREFIX = b"Asterisk Call Manager/"
#: Largest frame accepted (bytes, terminator excluded). Real frames are a few hundred bytes;
#: the biggest seen are ``Command`` outputs of some kilobytes.
MAX_FRAME = 1 << 20

# A blank line: CRLF CRLF, or any mix with bare LF.
_FRAME_END = re.compile(rb"\r?\n\r?\n")
_END_COMMAND = "--END COMMAND--"
# A line (after a line end) that is not plain ``Key: Value``: no colon (a stray line),
# ``Key:value``, ``Key:``, a colon inside the key, a blank or tab after ``": "``, or a blank
# line followed by another (an empty frame). Only keys and the two characters after the
# first colon are read (possessive, no backtracking); the rest of a value never is.
_ODD_LINE = re.compile(r"\n(?:[^:\r\n]++(?:\r|:(?: [ \t]|[^ ]))|:(?: [ \t]|[^ ])|\r\n\r)")
# The same for the first line of a region or frame (anchored with ``match``).
_ODD_FIRST = re.compile(r"[^:\r\n]++(?:\r|:(?: [ \t]|[^ ]))|:(?: [ \t]|[^ ])|\r")
# Messages of the fast path are built without a Python-level ``__init__`` call per message:
# a bare instance, then the ``headers`` slot set directly (both C calls driven by ``map``).
# ``Message`` is a frozen slotted dataclass; this is exactly what its ``__init__`` does.
_new_object = object.__new__
_set_headers = Message.__dict__["headers"].__set__
if tuple(f.name for f in fields(Message)) != ("headers",):  # pragma: no cover - a guard
    raise ImportError("Message gained fields: update protocol._fast_messages, which sets only one")


@dataclass(frozen=True, slots=True)
class Greeting:
    """The banner line the server sends once after connect."""

    version: str
    line: str


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame that could not be taken as is; the parser has already moved past it.

    ``message`` is set when the frame was still readable (invalid UTF-8 decoded with U+FFFD
    replacement characters): the caller should process it *and* report the damage.
    ``message`` is ``None`` for frames that were dropped (longer than ``MAX_FRAME``).
    """

    reason: str
    size: int
    message: Message | None = None


ParserEvent = Greeting | Message | BadFrame


class AmiParser:
    """Incremental AMI stream parser in the style of h11.

    Usage: ``p.receive_data(chunk)`` for every read, then ``for ev in p: ...`` (or
    ``p.next_event()`` until ``None``); items are :class:`Greeting` (first line only),
    :class:`Message` or :class:`BadFrame`.

    Never raises on input: anything malformed comes out as :class:`BadFrame`.
    """

    def __init__(self, *, expect_greeting: bool = True, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._scan_from = 0  # where the search for a frame end resumes
        self._events: deque[ParserEvent] = deque()
        self._greeting_pending = expect_greeting
        self._skipping = False  # inside an over-long frame, discarding up to its end
        self._skipped = 0
        self.max_frame = max_frame
        self.bad_frames = 0

    # -- input -----------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes as they came from the socket (any chunking)."""
        if not data:
            return
        self._buf += data
        if self._greeting_pending and not self._take_greeting():
            return
        self._cut_frames()

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

    # -- output ----------------------------------------------------------------------------

    def next_event(self) -> ParserEvent | None:
        """The next parsed item, or ``None`` when more data is needed."""
        return self._events.popleft() if self._events else None

    def __iter__(self) -> Iterator[ParserEvent]:
        """Everything parsed so far (taken out of the parser at once: C-speed iteration)."""
        events = list(self._events)
        self._events.clear()
        return iter(events)

    # -- internals -------------------------------------------------------------------------

    def _take_greeting(self) -> bool:
        """Consume the banner line; False while it is still incomplete."""
        buf = self._buf
        nl = buf.find(b"\n")
        if nl < 0:
            # Not a banner after all once the prefix cannot match or the line grows absurd.
            head = bytes(buf[: len(GREETING_PREFIX)])
            if GREETING_PREFIX.startswith(head) and len(buf) <= 1024:
                return False
            self._greeting_pending = False
            return True
        line = bytes(buf[:nl]).rstrip(b"\r")
        self._greeting_pending = False
        if not line.startswith(GREETING_PREFIX):
            return True  # no banner (e.g. a proxy in between): parse everything as frames
        del buf[: nl + 1]
        text = line.decode("utf-8", "replace")
        self._events.append(Greeting(text.partition("/")[2].strip(), text))
        return True

    def _cut_frames(self) -> None:
        buf = self._buf
        if self._skipping:
            self._skip_oversized()
            if self._skipping:
                return
        # Everything up to the last blank line is complete: take it as one region.
        scan = self._scan_from
        crlf_end = buf.rfind(b"\n\r\n", scan)
        lf_end = buf.rfind(b"\n\n", scan)
        end = max(crlf_end + 3 if crlf_end >= 0 else 0, lf_end + 2 if lf_end >= 0 else 0)
        if end:
            region = bytes(buf[:end])
            del buf[:end]
            self._cut_region(region)
        pending = len(buf)
        if pending > self.max_frame:
            # No end in sight within the limit: drop what we have and resynchronise.
            self._report_oversized(pending)
            self._skipping = True
            self._skipped = pending
            self._keep_tail()
            return
        # A terminator may straddle the next read: rescan the last 3 bytes.
        self._scan_from = max(0, pending - 3)

    def _cut_region(self, region: bytes) -> None:
        """Frames of a region that ends with a blank line.

        Fast path (the normal Asterisk stream): CRLF only (no bare CR or LF), valid UTF-8,
        every line exactly ``Key: Value`` — one decode and a handful of C-level checks per
        region, then all frames of the region are split and paired by ``map`` pipelines
        without a Python-level loop. Anything else goes frame by frame through the general
        path (same result; a property test checks that).
        """
        crlf = region.count(b"\r\n")
        if region.count(b"\n") == crlf and region.count(b"\r") == crlf:  # CRLF only
            try:
                text = region.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                frames = text.split("\r\n\r\n")
                frames.pop()  # the region ends with a blank line: the last piece is ""
                if len(region) <= self.max_frame and _all_plain(text, crlf - len(frames)):
                    self._events.extend(_fast_messages(frames))
                else:
                    self._fast_frames(frames)
                return
        start = 0
        limit = self.max_frame
        for m in _FRAME_END.finditer(region):
            end = m.start()
            if end - start > limit:
                self._report_oversized(end - start)
            else:
                self._emit(region[start:end])
            start = m.end()
        if start < len(region):
            # Only line ends can remain here (an overlapping terminator): keep them in order.
            self._buf[:0] = region[start:]

    def _fast_frames(self, frames: list[str]) -> None:
        """Frame by frame: the region as a whole failed a fast-path check or is large."""
        append = self._events.append
        limit = self.max_frame
        for frame in frames:
            if not frame:
                continue
            if len(frame) * 4 > limit:  # chars ≤ bytes ≤ 4·chars: measure only when close
                size = len(frame.encode("utf-8"))
                if size > limit:
                    self._report_oversized(size)
                    continue
            if _all_plain(frame + "\r\n", frame.count("\r\n") + 1):
                append(_fast_messages([frame])[0])
                continue
            message = _parse_frame(frame)
            if message is not None:
                append(message)

    def _keep_tail(self) -> None:
        buf = self._buf
        if len(buf) > 3:
            del buf[:-3]
        self._scan_from = 0

    def _skip_oversized(self) -> None:
        buf = self._buf
        m = _FRAME_END.search(buf)
        if m is None:
            self._skipped += max(0, len(buf) - 3)
            self._keep_tail()
            return
        del buf[: m.end()]
        self._skipping = False
        self._scan_from = 0

    def _report_oversized(self, size: int) -> None:
        self.bad_frames += 1
        self._events.append(
            BadFrame(
                f"frame longer than {self.max_frame} bytes dropped up to the next blank line", size
            )
        )

    def _emit(self, frame: bytes) -> None:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = frame.decode("utf-8", "replace")
            message = _parse_frame(text)
            if message is not None:
                self.bad_frames += 1
                self._events.append(
                    BadFrame(
                        f"invalid UTF-8 at byte {exc.start} of the frame "
                        f"(decoded with U+FFFD replacement)",
                        len(frame),
                        message,
                    )
                )
            return
        message = _parse_frame(text)
        if message is not None:
            self._events.append(message)


def _all_plain(text: str, lines: int) -> bool:
    """True if ``text`` (CRLF only, every line ending with CRLF) consists of frames of
    exactly ``Key: Value`` lines separated by one blank line, ``lines`` being the number of
    non-blank lines: the first colon of each line is followed by one blank and then no
    blank or tab, and that is the line's only ``": "``. Splitting on ``": "`` and CRLF then
    gives exactly what :func:`_parse_frame` gives.

    A count and one regex that reads only keys replace any per-line Python work: every
    line has a ``": "`` at its first colon and there are no more of them than lines, so
    each line has exactly one.
    """
    return (
        text.count(": ") == lines
        and _ODD_FIRST.match(text) is None
        and _ODD_LINE.search(text) is None
    )


def _fast_messages(frames: list[str]) -> list[Message]:
    """Messages of frames that passed :func:`_all_plain`, built entirely by C-level ``map``:
    ``"K: V\\r\\nK2: V2"`` → split on both separators → keys and values paired by ``zip``."""
    parts = map(str.split, map(str.replace, frames, repeat(": "), repeat("\r\n")), repeat("\r\n"))
    # zip(it, it) over one iterator per frame pairs key, value, key, value …
    its = list(map(iter, parts))
    headers = map(tuple, map(zip, its, its))
    out: list[Message] = list(map(_new_object, repeat(Message, len(its))))
    deque(map(_set_headers, out, headers), maxlen=0)  # drives the setter from C
    return out


def _parse_frame(text: str) -> Message | None:
    """Headers of one frame (terminator removed); None for a frame of blank lines only."""
    lines = text.split("\n")
    headers: list[tuple[str, str]] = []
    append = headers.append
    follows = False
    output = False  # inside legacy ``Response: Follows`` output
    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line and not headers:
            continue  # stray blank lines between frames
        if output:
            if line != _END_COMMAND:
                append(("Output", line))
            continue
        key, sep, value = line.partition(":")
        if not sep:
            if follows:
                output = True
                if line != _END_COMMAND:
                    append(("Output", line))
            else:
                append(("", line))  # keep the stray line rather than lose it
            continue
        value = value.lstrip(" \t")
        if not headers and key.lower() == "response" and value.lower() == "follows":
            follows = True
        append((key, value))
    if not headers:
        return None
    return Message(tuple(headers))
