"""When to try a peer again: exponential backoff, time passed in (sans-I/O).

After ``n`` failed attempts in a row the next one waits
``min(cap, base * factor**(n-1))`` ms, spread by up to ``jitter`` of itself
(the caller supplies the random fraction, so tests are exact). The cap keeps
a peer that was down for ten minutes from waiting more than ``cap`` once it
is back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_ms: int = 500
    factor: float = 2.0
    cap_ms: int = 30_000
    jitter: float = 0.2

    def delay_ms(self, failures: int, spread: float = 0.0) -> int:
        """Wait after ``failures`` consecutive failures; ``spread`` in [0, 1)."""
        if failures <= 0:
            return 0
        raw = min(float(self.cap_ms), self.base_ms * self.factor ** min(failures - 1, 62))
        return int(raw * (1.0 + self.jitter * spread))

    def next_attempt(self, failures: int, now: int, spread: float = 0.0) -> int:
        return now + self.delay_ms(failures, spread)
