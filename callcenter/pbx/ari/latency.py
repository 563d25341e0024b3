"""Round-trip durations of the ARI REST calls, for the benchmarks and /metrics."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float


class LatencyStats:
    """The most recent REST round-trip durations (seconds), for percentiles."""

    def __init__(self, size: int = 2048) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.total = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.total += 1

    def samples(self) -> list[float]:
        return list(self._samples)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the recent samples (``q`` in 0..1); 0.0 when empty."""
        data = sorted(self._samples)
        if not data:
            return 0.0
        rank = max(0, min(len(data) - 1, math.ceil(q * len(data)) - 1))
        return data[rank]

    def summary(self) -> LatencySummary:
        data = self._samples
        return LatencySummary(
            count=len(data),
            p50=self.percentile(0.5),
            p95=self.percentile(0.95),
            p99=self.percentile(0.99),
            max=max(data, default=0.0),
        )

    def clear(self) -> None:
        self._samples.clear()
