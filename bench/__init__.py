"""Benchmarks (``python -m bench``). Speed is measured here, never asserted in tests.

A module in this package takes part in ``python -m bench`` when it defines either
``run(rounds: int) -> list[Result]`` (rows for the summary table) or ``main()`` (prints its
own report; ``sys.argv`` is reset to the module name so its defaults apply). Modules with
``SKIP_BY_DEFAULT = True`` run only when named: ``python -m bench ami_peer_faults``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    """One measured figure."""

    bench: str
    metric: str
    value: float
    unit: str
    note: str = ""
