"""Connection health (/healthz, metrics) and the reconnect backoff (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AmiStatus:
    """Connection health for /healthz and metrics."""

    connected: bool
    connected_since: float | None  # time.time() of the last successful login
    last_error: str | None
    reconnects: int  # sessions started after the first one
    version: str | None  # from the greeting, e.g. "11.0.0"


def backoff_delay(attempt: int, low: float, high: float, rand: float) -> float:
    """Delay before reconnect ``attempt`` (0-based): ``low·2^attempt`` capped at ``high``,
    scaled by ``rand`` in [0.5, 1] ("equal jitter") so that many clients spread out."""
    base: float = min(high, low * float(1 << min(attempt, 30)))
    return base * (0.5 + 0.5 * min(max(rand, 0.0), 1.0))
