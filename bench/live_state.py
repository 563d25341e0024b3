"""Benchmark: AMI parse + live-state update on streams recorded from Asterisk 22, one core.

Two streams, both with ``Timestamp`` headers (manager.conf ``timestampevents = yes``, as
the sandbox templates set it), so ``LiveState.apply`` reads the event time on every event:

- ``queue``: tests/fixtures/ami/queue_traffic.bin (40 callers through an app_queue queue,
  ≈4,650 messages), repeated to ≈100,000 messages with synthetic increasing timestamps
  (the recording predates ``timestampevents``; see ``bench.ami_parse.with_timestamps``);
- ``state``: the real timestamped recordings of tests/fixtures/state/*.json (answered,
  abandoned, timeout, blocked, blind transfer), encoded to wire bytes and repeated to
  ≈100,000 messages, every copy shifted in time past the previous one.

Each stream goes through ``AmiParser`` in 4 KiB chunks and ``LiveState.apply`` (fresh objects
per round). Times are CPU time of the process (``time.process_time``: the machine is shared),
best of ``--rounds``. Target (GUIDE §7): ≥ 50,000 events/s for parse + apply.

    .venv/bin/python -m bench live_state        or   python -m bench.live_state --rounds 5
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from bench import Result
from bench.ami_parse import build_stream
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import AmiParser
from callcenter.state.live import LiveState

STATE_FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "state"
SCENARIOS = ("answered", "abandoned", "timeout", "blocked", "transfer")
CHUNK = 4096
TARGET = 100_000


def state_stream(target: int = TARGET) -> tuple[bytes, int]:
    """The recorded scenarios as AMI wire bytes, repeated; timestamps shifted per copy."""
    scenarios = [json.loads((STATE_FIXTURES / f"{n}.json").read_text()) for n in SCENARIOS]
    messages = [headers for scenario in scenarios for headers in scenario]
    stamps = [float(v) for h in messages for k, v in h if k == "Timestamp"]
    span = max(stamps) - min(stamps) + 60.0
    copies = max(1, round(target / len(messages)))
    out = [b"Asterisk Call Manager/11.0.0\r\n"]
    for copy in range(copies):
        shift = copy * span
        for headers in messages:
            lines = [
                f"{k}: {float(v) + shift:.6f}" if k == "Timestamp" else f"{k}: {v}"
                for k, v in headers
            ]
            out.append(("\r\n".join(lines) + "\r\n\r\n").encode())
    return b"".join(out), len(messages) * copies


def parse(data: bytes) -> list[Message]:
    parser = AmiParser()
    out: list[Message] = []
    for i in range(0, len(data), CHUNK):
        parser.receive_data(data[i : i + CHUNK])
        out.extend(m for m in parser if isinstance(m, Message))
    return out


def parse_only(data: bytes) -> int:
    """Parse and drop, as the reader does (keeping 100,000 messages alive would mostly
    measure the garbage collector walking them)."""
    parser = AmiParser()
    n = 0
    for i in range(0, len(data), CHUNK):
        parser.receive_data(data[i : i + CHUNK])
        for m in parser:
            if isinstance(m, Message):
                n += 1
    return n


def parse_and_apply(data: bytes) -> int:
    parser = AmiParser()
    state = LiveState()
    apply = state.apply
    n = 0
    for i in range(0, len(data), CHUNK):
        parser.receive_data(data[i : i + CHUNK])
        for m in parser:
            if isinstance(m, Message):
                apply(m)
                n += 1
    return n


def best(rounds: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def run(rounds: int = 5) -> list[Result]:
    results: list[Result] = []
    for name, (data, _) in {"queue": build_stream(TARGET), "state": state_stream()}.items():
        messages = parse(data)
        n = len(messages)
        stamped = sum(1 for m in messages if "Timestamp" in m)

        def apply_only(messages: list[Message] = messages) -> None:  # parsed beforehand
            state = LiveState()
            apply = state.apply
            for m in messages:
                apply(m)

        note = f"{n:,} msgs ({stamped:,} with Timestamp), {len(data) / 2**20:.1f} MiB"
        for metric, fn in (
            ("parse only", lambda data=data: parse_only(data)),
            ("apply only", apply_only),
            ("parse + apply", lambda data=data: parse_and_apply(data)),
        ):
            rate = n / best(rounds, fn)
            extra = "; target ≥ 50,000" if metric == "parse + apply" else ""
            results.append(
                Result("live_state", f"{name}: {metric}", rate, "events/s", note + extra)
            )
    return results


def main() -> None:
    from bench.__main__ import machine, table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(table(run(args.rounds)))


if __name__ == "__main__":
    main()
