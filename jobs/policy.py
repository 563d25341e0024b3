"""When to try a failed job again (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``base * 2**(attempt-1)`` seconds, capped at ``cap``."""

    base: float = 5.0
    cap: float = 3600.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        return float(min(self.base * 2 ** (attempt - 1), self.cap))
