"""When to send cover posts (T12), sans-I/O: randomness and time are arguments.

Delays are drawn from an exponential distribution (a Poisson process) with
the configured mean, the same shape a person's sporadic messages have at the
scale a provider can observe, and clipped to [``min_ms``, ``max_ms``] so a
device never floods nor falls silent for long.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class CoverSchedule:
    rng: random.Random
    mean_ms: int = 300_000
    min_ms: int = 5_000
    max_ms: int = 3_600_000
    next_at: int | None = None

    def delay(self) -> int:
        d = int(self.rng.expovariate(1.0 / self.mean_ms))
        return max(self.min_ms, min(self.max_ms, d))

    def due(self, now: int) -> bool:
        """True when a cover post is due; schedules the next one."""
        if self.next_at is None:
            self.next_at = now + self.delay()
            return False
        if now < self.next_at:
            return False
        self.next_at = now + self.delay()
        return True
