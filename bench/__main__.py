"""Run the benchmarks: ``python -m bench [--rounds N] [module ...]``; prints one table."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

from bench import Result

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def table(results: list[Result]) -> str:
    rows = [("bench", "metric", "value", "unit", "note")]
    rows += [
        (
            r.bench,
            r.metric,
            f"{r.value:,.2f}" if r.value < 100 else f"{r.value:,.0f}",
            r.unit,
            r.note,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            " | ".join(
                cell.ljust(widths[i]) if i != 2 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            ).rstrip()
        )
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(discover())}")
    ap.add_argument("--rounds", type=int, default=3, help="best-of rounds for run() modules")
    args = ap.parse_args()
    names = args.modules or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        ap.error(f"no benchmark module {', '.join(unknown)} in {HERE}")
    print(f"machine: {machine()}")
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not args.modules and getattr(module, "SKIP_BY_DEFAULT", False):
            continue
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        if hasattr(module, "run"):
            results.extend(module.run(args.rounds))
        elif hasattr(module, "main"):
            saved, sys.argv = sys.argv, [f"bench.{name}"]
            try:
                module.main()
            finally:
                sys.argv = saved
        else:
            print(f"   (no run() or main() in bench.{name})")
            continue
        print(f"   {time.perf_counter() - started:.1f} s", flush=True)
    if results:
        print()
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
