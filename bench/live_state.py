"""Benchmark: AMI parse + live-state update on a stream recorded from Asterisk 22.

Replays tests/fixtures/ami/queue_traffic.bin (40 queue callers, ≈4,650 messages) through
AmiParser in 4 KiB chunks and LiveState.apply, fresh objects per round, one core.
Target (GUIDE §7): ≥ 50,000 events/s for parse + apply.

    .venv/bin/python -m bench.live_state [--rounds 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from callcenter.pbx.ami.message import Message
from callcenter.pbx.ami.protocol import AmiParser
from callcenter.state.live import LiveState

STREAM = Path(__file__).resolve().parent.parent / "tests/fixtures/ami/queue_traffic.bin"
CHUNK = 4096


def parse(data: bytes) -> list[Message]:
    parser = AmiParser()
    out: list[Message] = []
    for i in range(0, len(data), CHUNK):
        parser.receive_data(data[i : i + CHUNK])
        out.extend(m for m in parser if isinstance(m, Message))
    return out


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


def best(rounds: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    data = STREAM.read_bytes()
    messages = parse(data)
    n = len(messages)

    def apply_only() -> None:
        state = LiveState()
        apply = state.apply
        for m in messages:
            apply(m)

    t_parse = best(args.rounds, lambda: parse(data))
    t_apply = best(args.rounds, apply_only)
    t_both = best(args.rounds, lambda: parse_and_apply(data))
    print(f"stream: {STREAM.name}, {len(data)} bytes, {n} messages, best of {args.rounds}")
    print(f"parse only      : {n / t_parse:>10,.0f} events/s")
    print(f"apply only      : {n / t_apply:>10,.0f} events/s")
    print(f"parse + apply   : {n / t_both:>10,.0f} events/s  (target ≥ 50,000)")


if __name__ == "__main__":
    main()
