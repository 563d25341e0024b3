"""Simulated callers: real calls placed inside Asterisk, no SIP traffic generator needed.

A call is an ARI originate of ``Local/<DID>@<inbound context>``. The Local channel's second
half is the *inbound leg*: it runs the inbound dialplan exactly like a trunk call (DID,
Stasis, queue). The first half is the *caller*: once the inbound leg answers it runs the
``[caller-script]`` context, which walks the scenario's steps (wait, send DTMF, play a
sound) from the channel variable ``CC_SIM_STEPS`` and then hangs up.

Only ARI REST is used (no events websocket), so simulating never displaces the running
application's websocket, and AMI is not needed at all.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxConfig
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.runtime import PbxInstance

CALLER_SCRIPT_CONTEXT = "caller-script"
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


async def place_call(
    ari: AriRest, config: PbxConfig, scenario: Scenario, channel_id: str | None = None
) -> str:
    """Originate the simulated call; return the caller half's channel id.

    The inbound leg (the Local channel's second half, running ``config.inbound_context``)
    gets the id ``<channel_id>-in``.
    """
    scenario.validate()
    channel_id = channel_id or f"sim-{uuid.uuid4().hex[:16]}"
    variables = {"CC_SIM_STEPS": scenario.encode_steps()}
    # "__" makes Asterisk copy the variable to the inbound half (and onwards).
    variables.update({f"__{k}": v for k, v in scenario.inbound_variables.items()})
    await ari.originate(
        f"Local/{scenario.did}@{config.inbound_context}",
        context=CALLER_SCRIPT_CONTEXT,
        extension="s",
        priority=1,
        variables=variables,
        caller_id=scenario.caller_id,
        timeout=scenario.ring_timeout,
        channel_id=channel_id,
        other_channel_id=inbound_leg_id(channel_id),
        formats=scenario.formats or None,
    )
    return channel_id


def dial_string(number: str) -> str:
    """``number`` without the separators people (and tenant files) write: ``+49 89 123-45``
    → ``+498912345``; anything else is left for :meth:`Scenario.validate` to refuse."""
    return re.sub(r"[\s\-/().]", "", number)


def inbound_leg_id(channel_id: str) -> str:
    """Channel id of the inbound leg of the simulated call ``channel_id``."""
    return f"{channel_id}-in"


def import_sound(instance: PbxInstance, source: Path, name: str | None = None) -> str:
    """Copy an audio file into the instance's sounds dir as 8 kHz mono 16-bit WAV.

    Returns the media path for :class:`Play` (inside the PBX root, without extension).
    Uses sox for any other format or rate.
    """
    if not source.is_file():
        raise ScenarioError(f"play: audio file {source} does not exist")
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", name or source.stem)[:80] or "sound"
    target = instance.sounds_dir / f"{stem}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_telephone_wav(source):
        shutil.copyfile(source, target)
    else:
        sox = shutil.which("sox")
        if sox is None:
            raise ScenarioError(
                f"play: {source} is not 8 kHz mono 16-bit WAV and sox is not installed "
                "(apt-get install sox)"
            )
        tmp = target.with_name(f".{target.name}.tmp.wav")
        proc = subprocess.run(
            [sox, str(source), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", str(tmp)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ScenarioError(f"play: sox could not convert {source}: {proc.stderr.strip()}")
        tmp.replace(target)
    return instance.sound_path(stem)


def _is_telephone_wav(path: Path) -> bool:
    try:
        with wave.open(str(path)) as w:
            return bool(
                w.getframerate() == 8000 and w.getnchannels() == 1 and w.getsampwidth() == 2
            )
    except (wave.Error, EOFError, OSError):
        return False


def parse_caller(spec: str) -> tuple[str, str]:
    """``'Anna Muster <+4930123>'`` → (number, name); a bare number → (number, "")."""
    match = _CALLER_SPEC.match(spec)
    if match:
        return match.group("number").strip(), match.group("name").strip()
    return spec.strip(), ""


# ------------------------------------------------------------------- scenario files
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


# ----------------------------------------------------------------------------- CLI
def register(subparsers: Any) -> None:
    """Add ``simulate`` to the top-level parser."""
    p = subparsers.add_parser(
        "simulate",
        help="place simulated calls on the configured PBX",
        description=(
            "Place real calls through Asterisk: Local channels into the inbound context "
            "whose caller side waits, sends DTMF, plays audio and hangs up."
        ),
    )
    p.add_argument("--did", help="dialled number (DID), e.g. +4930123456")
    p.add_argument(
        "--scenario",
        type=Path,
        help="a scenario file (config/scenarios/*.toml): DID, caller and steps from the file",
    )
    p.add_argument("--calls", type=int, default=1, help="number of calls (default 1)")
    p.add_argument("--rate", type=float, default=1.0, help="calls per second (default 1)")
    p.add_argument(
        "--caller",
        default="",
        help='caller id: "+4930555" or "Anna Muster <+4930555>"; {n} is the call number',
    )
    p.add_argument("--wait", type=float, default=0.0, help="seconds before sending DTMF")
    p.add_argument("--dtmf", default="", help="DTMF digits to send after --wait")
    p.add_argument(
        "--play",
        default="",
        help="audio file (converted to 8 kHz WAV into the PBX) or Asterisk sound name",
    )
    p.add_argument("--hold", type=float, default=5.0, help="seconds to stay before hanging up")
    p.set_defaults(func=_simulate)


def _simulate(config: Config, args: argparse.Namespace) -> int:
    config = config.with_secrets()
    try:
        if args.calls < 1:
            raise ScenarioError(f"--calls must be at least 1, got {args.calls}")
        if not args.rate > 0:
            raise ScenarioError(f"--rate must be positive, got {args.rate}")
        if args.scenario is not None:
            loaded = load_scenario_file(args.scenario)
            scenarios: Sequence[Scenario] = [loaded.scenario] * args.calls
            args.did = loaded.scenario.did
        elif not args.did:
            raise ScenarioError("give --did or --scenario")
        else:
            args.did = dial_string(args.did)
            play = args.play
            if play and (Path(play).is_file() or "." in Path(play).name):
                play = import_sound(PbxInstance(config.pbx, config.app.data_dir), Path(play))
            scenarios = _scenarios(args, play)
    except ScenarioError as exc:
        print(f"callcenter simulate: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_place_all(config, args, scenarios))


@dataclass(frozen=True, slots=True)
class Placed:
    """The outcome of one call of :func:`place_calls`: a channel id or the error."""

    index: int
    scenario: Scenario
    channel_id: str | None
    error: str | None = None


async def place_calls(
    ari: AriRest,
    config: PbxConfig,
    scenarios: Sequence[Scenario],
    rate: float,
    on_placed: Callable[[Placed], None] | None = None,
) -> list[Placed]:
    """Place ``scenarios`` at ``rate`` calls per second (paced from the start, so a slow
    originate does not lower the rate); a failed originate is recorded, not raised."""
    if not rate > 0:
        raise ScenarioError(f"rate must be positive, got {rate}")
    results: list[Placed] = []
    started = time.monotonic()
    for i, scenario in enumerate(scenarios):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        try:
            placed = Placed(i, scenario, await place_call(ari, config, scenario))
        except AriError as exc:
            placed = Placed(i, scenario, None, str(exc))
        results.append(placed)
        if on_placed is not None:
            on_placed(placed)
    return results


async def _place_all(
    config: Config, args: argparse.Namespace, scenarios: Sequence[Scenario]
) -> int:
    ari = AriRest.from_config(config.pbx)

    def report(p: Placed) -> None:
        if p.channel_id is None:
            print(f"call {p.index + 1}: FAILED: {p.error}", file=sys.stderr)
            return
        who = p.scenario.caller_id or "(no caller id)"
        print(
            f"call {p.index + 1}: {p.channel_id} {who} -> {p.scenario.did} "
            f"steps [{p.scenario.encode_steps() or 'hang up'}]"
        )

    try:
        results = await place_calls(ari, config.pbx, scenarios, args.rate, report)
    finally:
        await ari.close_session()
    placed = sum(1 for p in results if p.channel_id is not None)
    print(f"placed {placed} of {len(scenarios)} calls to {args.did} on {config.pbx.host}")
    return 0 if placed == len(scenarios) else 1


def _scenarios(args: argparse.Namespace, play: str) -> Sequence[Scenario]:
    out = []
    for n in range(1, args.calls + 1):
        number, name = parse_caller(args.caller.replace("{n}", str(n)))
        scenario = Scenario.simple(
            args.did, number, name, wait=args.wait, dtmf=args.dtmf, play=play, hold=args.hold
        )
        scenario.validate()
        out.append(scenario)
    return out
