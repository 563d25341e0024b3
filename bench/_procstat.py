"""Where a benchmark's CPU and waiting go: CPU per process tree, event-loop lag, GC pauses.

Shared by the benchmarks that run several processes on the 2-core machine (the app, its
stand-in PBX, the load generators, Chromium): a latency figure means little without knowing
who held the cores meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import time
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")
_TYPE = re.compile(r"--type=([a-z-]+)")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _label(pid: int, name: str) -> str:
    """Chromium's processes by role (renderer, gpu-process, …): they differ in cost."""
    if not name.startswith("chrom"):
        return name
    try:
        found = _TYPE.search(Path(f"/proc/{pid}/cmdline").read_text())
    except OSError:
        found = None
    return f"chromium {found.group(1) if found else 'browser'}"


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds used so far by ``root`` and all its descendants, by process label."""
    procs: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            procs[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (_name, ppid, _cpu) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in procs:
            label = _label(pid, procs[pid][0])
            out[label] = out.get(label, 0.0) + procs[pid][2]
        stack += children.get(pid, [])
    return out


def cores(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per label between two :func:`tree_cpu` snapshots."""
    return {k: (v - before.get(k, 0.0)) / seconds for k, v in after.items() if v > before.get(k, 0)}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class LagMonitor:
    """How late this process's event loop runs a timer: the wait any ready task also sees
    (the loop busy elsewhere, or the process waiting for a core)."""

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.every)
            self.lags.append(time.perf_counter() - t - self.every)

    def start(self) -> None:
        self.lags.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        ms = [x * 1000 for x in self.lags]
        return {"p50": pct(ms, 0.5), "p99": pct(ms, 0.99), "max": max(ms, default=0.0)}


class GcPauses:
    """The garbage collector's pauses in this process (``gc.callbacks``), by generation."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._start))

    def start(self) -> None:
        self.pauses.clear()
        gc.callbacks.append(self._callback)

    def stop(self) -> dict[str, float]:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        ms = [p * 1000 for _g, p in self.pauses]
        full = [p * 1000 for g, p in self.pauses if g == 2]
        return {
            "count": float(len(ms)),
            "max": max(ms, default=0.0),
            "total": sum(ms),
            "gen2": float(len(full)),
            "gen2_max": max(full, default=0.0),
        }


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, from ``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK
