"""A simulated caller's scenario: the number, the caller id, the steps; scenario files.

Pure (no PBX): :mod:`callcenter.pbx.simulate` places the calls.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_DID = re.compile(r"^\+?[0-9]{1,32}$")
_CALLER_NUMBER = re.compile(r"^\+?[0-9*#]{0,32}$")
_DTMF = re.compile(r"^[0-9*#A-Da-d]{1,64}$")
_MEDIA = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,200}$")
_VAR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CALLER_SPEC = re.compile(r"^\s*\"?(?P<name>[^\"<>]*?)\"?\s*<(?P<number>[^<>]*)>\s*$")


class ScenarioError(ValueError):
    """A scenario field is invalid; the message names the field and the value."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Stay on the line, silent, for ``seconds``."""

    seconds: float

    def encode(self) -> str:
        if not math.isfinite(self.seconds) or not 0 <= self.seconds <= 86400:
            raise ScenarioError(f"wait: seconds must be 0..86400, got {self.seconds!r}")
        return f"w:{self.seconds:g}"


@dataclass(frozen=True, slots=True)
class Dtmf:
    """Send DTMF ``digits`` (0-9, *, #, A-D) to the inbound leg."""

    digits: str

    def encode(self) -> str:
        if not _DTMF.match(self.digits):
            raise ScenarioError(f"dtmf: digits must be 0-9, *, #, A-D; got {self.digits!r}")
        return f"d:{self.digits}"


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``media`` into the call: an Asterisk sound name (``hello-world``) or an absolute
    path inside the PBX root without extension (see :func:`import_sound`)."""

    media: str

    def encode(self) -> str:
        if not _MEDIA.match(self.media.lstrip("/")) or ".." in self.media:
            raise ScenarioError(
                f"play: media must be a sound name or path of letters, digits, _ - . /; "
                f"got {self.media!r}"
            )
        return f"p:{self.media}"


Step = Wait | Dtmf | Play


@dataclass(frozen=True, slots=True)
class Scenario:
    """One simulated caller: who calls which number and what they do before hanging up."""

    did: str
    caller_number: str = ""
    caller_name: str = ""
    steps: tuple[Step, ...] = ()
    # Extra variables for the inbound leg (inherited through the Local channel).
    inbound_variables: Mapping[str, str] = field(default_factory=dict)
    ring_timeout: int = 30  # seconds the inbound leg may take to answer
    # Media formats of the Local channel, e.g. ("alaw",) like a German SIP trunk. Empty:
    # Asterisk's choice for an ARI originate without originator, which is slin192 (192 kHz
    # signed linear): every prompt is then resampled to 192 kHz and every frame crosses the
    # Local channel at that rate, costing about 2.5 % of a core per call (bench/ivr_calls).
    formats: tuple[str, ...] = ()

    @classmethod
    def simple(
        cls,
        did: str,
        caller_number: str = "",
        caller_name: str = "",
        *,
        wait: float = 0.0,
        dtmf: str = "",
        play: str = "",
        hold: float = 5.0,
    ) -> Scenario:
        """Wait, then send ``dtmf``, then play ``play``, then stay ``hold`` s, hang up."""
        steps: list[Step] = []
        if wait:
            steps.append(Wait(wait))
        if dtmf:
            steps.append(Dtmf(dtmf))
        if play:
            steps.append(Play(play))
        if hold:
            steps.append(Wait(hold))
        return cls(did, caller_number, caller_name, tuple(steps))

    def validate(self) -> None:
        if not _DID.match(self.did):
            raise ScenarioError(f"did: must be digits with an optional leading +; got {self.did!r}")
        if not _CALLER_NUMBER.match(self.caller_number):
            raise ScenarioError(
                f"caller number: digits, *, # with an optional leading +; "
                f"got {self.caller_number!r}"
            )
        if any(ch in self.caller_name for ch in '"<>\\') or not self.caller_name.isprintable():
            raise ScenarioError(
                f"caller name: no quotes, <, >, backslash or control characters; "
                f"got {self.caller_name!r}"
            )
        for name, value in self.inbound_variables.items():
            if not _VAR_NAME.match(name):
                raise ScenarioError(f"inbound variable name {name!r} is not a plain name")
            if not value.isprintable():
                raise ScenarioError(f"inbound variable {name}: control characters in value")
        for fmt in self.formats:
            if not re.fullmatch(r"[a-z0-9]{2,16}", fmt):
                raise ScenarioError(f"formats: {fmt!r} is not a media format name (alaw, gsm)")
        if self.ring_timeout < 1:
            raise ScenarioError("ring_timeout: must be at least 1 second")
        self.encode_steps()

    def encode_steps(self) -> str:
        """The ``CC_SIM_STEPS`` value the ``[caller-script]`` context walks through."""
        return "^".join(step.encode() for step in self.steps)

    @property
    def caller_id(self) -> str | None:
        if not self.caller_number and not self.caller_name:
            return None
        return f'"{self.caller_name}" <{self.caller_number}>'

    @property
    def duration(self) -> float:
        """Seconds of waiting in the script (DTMF and playback time not included)."""
        return sum(s.seconds for s in self.steps if isinstance(s, Wait))


def dial_string(number: str) -> str:
    """``number`` without the separators people (and tenant files) write: ``+49 89 123-45``
    → ``+498912345``; anything else is left for :meth:`Scenario.validate` to refuse."""
    return re.sub(r"[\s\-/().]", "", number)


def parse_caller(spec: str) -> tuple[str, str]:
    """``'Anna Muster <+4930123>'`` → (number, name); a bare number → (number, "")."""
    match = _CALLER_SPEC.match(spec)
    if match:
        return match.group("number").strip(), match.group("name").strip()
    return spec.strip(), ""


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """A scenario file (``config/scenarios/*.toml``): the call, and optionally the moment
    it happens (``at``, for time-dependent IVR paths) and what a test expects (``expect``,
    a free table read by the tests; ``simulate`` ignores it)."""

    path: Path
    name: str
    description: str
    scenario: Scenario
    at: datetime | None
    expect: Mapping[str, Any]


def load_scenario_file(path: Path) -> ScenarioFile:
    """Parse one scenario file; every fault names the file and the key.

    Keys: ``description``, ``did``, ``caller`` (``"+4930…"`` or ``"Name <+4930…>"``),
    ``steps`` (list of ``{wait = s}``, ``{dtmf = "1"}``, ``{play = "sound"}``), ``at``
    (offset date-time), ``[expect]``. Spaces in numbers are allowed (``+49 89 1234560``).
    """
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"description", "did", "caller", "steps", "at", "expect"}
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    did = raw.get("did")
    if not isinstance(did, str):
        raise ScenarioError(f"{where}: did: required, a phone number string")
    did = dial_string(did)
    caller = raw.get("caller", "")
    if not isinstance(caller, str):
        raise ScenarioError(f"{where}: caller: expected a string, got {caller!r}")
    number, name = parse_caller(caller)
    steps = [_step(where, i, item) for i, item in enumerate(raw.get("steps", []))]
    at = raw.get("at")
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
        raise ScenarioError(f"{where}: at: an offset date-time (2026-11-30T09:00:00Z); got {at!r}")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        raise ScenarioError(f"{where}: expect: expected a table")
    description = raw.get("description", "")
    scenario = Scenario(did.replace(" ", ""), number.replace(" ", ""), name, tuple(steps))
    try:
        scenario.validate()
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    return ScenarioFile(path, path.stem, str(description), scenario, at, expect)


def _step(where: str, i: int, item: Any) -> Step:
    if not isinstance(item, dict) or len(item) != 1:
        raise ScenarioError(
            f'{where}: steps.{i}: one of {{wait = s}}, {{dtmf = ".."}}, '
            f'{{play = ".."}}; got {item!r}'
        )
    ((kind, value),) = item.items()
    if kind == "wait" and isinstance(value, int | float) and not isinstance(value, bool):
        return Wait(float(value))
    if kind == "dtmf" and isinstance(value, str):
        return Dtmf(value)
    if kind == "play" and isinstance(value, str):
        return Play(value)
    raise ScenarioError(f"{where}: steps.{i}: {kind} = {value!r} is not a valid step")
