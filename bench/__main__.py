"""Run the benchmarks: ``python -m bench [--rounds N] [--all] [module ...]``; prints one table.

Without names only the quick modules run (seconds each). Heavy ones – a module with
``SKIP_BY_DEFAULT = True`` or listed in :data:`HEAVY` (a 1,000,000-contact database load, a
real Asterisk under load, failure-mode demos) – run when named or with ``--all``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

from bench import Result

HERE = Path(__file__).resolve().parent
#: Modules that take minutes or need more than this process (beside ``SKIP_BY_DEFAULT``):
#: crm_lookup loads 1,000,000 contacts into PostgreSQL by default.
HEAVY = frozenset({"crm_lookup"})


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


def is_heavy(name: str, module: object) -> bool:
    return name in HEAVY or bool(getattr(module, "SKIP_BY_DEFAULT", False))


def takes_rounds(module: object) -> bool:
    """``run(rounds)`` returning rows; other ``run`` signatures (argv) go through main()."""
    run = getattr(module, "run", None)
    if run is None:
        return False
    try:
        return "rounds" in inspect.signature(run).parameters
    except (TypeError, ValueError):
        return False


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("modules", nargs="*", help=f"default: quick ones of {', '.join(discover())}")
    ap.add_argument("--all", action="store_true", help="also run the heavy modules")
    ap.add_argument("--rounds", type=int, default=3, help="best-of rounds for run() modules")
    args = ap.parse_args()
    names = args.modules or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        ap.error(f"no benchmark module {', '.join(unknown)} in {HERE}")
    print(f"machine: {machine()}")
    results: list[Result] = []
    skipped: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not args.modules and not args.all and is_heavy(name, module):
            skipped.append(name)
            continue
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        if takes_rounds(module):
            results.extend(module.run(args.rounds))
        elif hasattr(module, "main"):
            saved, sys.argv = sys.argv, [f"bench.{name}"]
            try:
                module.main()
            finally:
                sys.argv = saved
        else:
            print(f"   (no run(rounds) or main() in bench.{name})")
            continue
        print(f"   {time.perf_counter() - started:.1f} s", flush=True)
    if skipped:
        print(f"skipped (heavy; name them or pass --all): {', '.join(skipped)}")
    if results:
        print()
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
