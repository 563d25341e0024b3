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
import re
import shutil
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callcenter.config import Config, PbxConfig
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.runtime import PbxInstance
from callcenter.pbx.scenario import (
    Dtmf,
    Play,
    Scenario,
    ScenarioError,
    ScenarioFile,
    Step,
    Wait,
    dial_string,
    load_scenario_file,
    parse_caller,
)

__all__ = [
    "CALLER_SCRIPT_CONTEXT",
    "Dtmf",
    "Placed",
    "Play",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "Step",
    "Wait",
    "dial_string",
    "import_sound",
    "inbound_leg_id",
    "load_scenario_file",
    "parse_caller",
    "place_call",
    "place_calls",
    "register",
]

CALLER_SCRIPT_CONTEXT = "caller-script"


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
