"""Token buckets keyed by (kind, key), with time passed in (``now`` in ms).

State is per node and in memory: a limit is a brake on abuse, not an
accounting record, and keeping it out of the store keeps posting keys and
addresses out of the database (T11).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from accord.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    per_second: float
    burst: float


class RateLimiter:
    def __init__(self, limits: dict[str, Limit], max_keys: int = 100_000) -> None:
        self.limits = limits
        self.max_keys = max_keys  # per kind
        # One LRU per kind: a flood of fresh keys of one kind (addresses, invented
        # names) cannot evict, and so reset, the buckets of another (issue 17).
        self._buckets: dict[str, OrderedDict[str, tuple[float, int]]] = {}

    def check(self, kind: str, key: str, now: int, cost: float = 1.0) -> None:
        """Take ``cost`` tokens from the bucket or raise :class:`RateLimited`.

        The error carries how long until ``cost`` tokens are back (the
        ``Retry-After`` of the 429 answer).
        """
        wait = self._take(kind, key, now, cost)
        if wait is not None:
            raise RateLimited(f"too many requests ({kind}); slow down", retry_after_ms=wait)

    def take(self, kind: str, key: str, now: int, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if the bucket has them; whether it did (a budget, not a refusal)."""
        return self._take(kind, key, now, cost) is None

    def _take(self, kind: str, key: str, now: int, cost: float) -> int | None:
        """None when the tokens were taken, else the milliseconds until they would be there."""
        limit = self.limits[kind]
        buckets = self._buckets.setdefault(kind, OrderedDict())
        tokens, last = buckets.pop(key, (limit.burst, now))
        tokens = min(limit.burst, tokens + max(0, now - last) * limit.per_second / 1000.0)
        if tokens < cost:
            buckets[key] = (tokens, now)
            if limit.per_second <= 0 or cost > limit.burst:
                return 2**31  # never refills to ``cost``: a long wait, not a busy loop
            return max(1, math.ceil((cost - tokens) * 1000.0 / limit.per_second))
        buckets[key] = (tokens - cost, now)
        # Forget the least recently used buckets so memory stays bounded.
        while len(buckets) > self.max_keys:
            buckets.popitem(last=False)
        return None

    def forget(self, kind: str, key: str) -> None:
        self._buckets.get(kind, OrderedDict()).pop(key, None)
