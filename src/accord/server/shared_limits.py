"""One provider's rate limits across its nodes (issue 23).

Every ``INTERVAL_MS`` a node sends what it took from each of its limiters
since the last time (``RateLimiter.drain_spent``) over the bus, and takes
from its own buckets what the other nodes sent (``RateLimiter.absorb``). A
client spread over N nodes by a load balancer so gets about what one node
would grant it, not N times as much; the overshoot is bounded by what the
nodes grant in one interval. While the bus is down each node enforces its
own limits alone (the exchange is dropped and counted, never queued).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from accord.bus import Bus
from accord.errors import ValidationError
from accord.ratelimit import RateLimiter, decode_spent, encode_spent

INTERVAL_MS = 200
log = logging.getLogger("accord.server.shared_limits")


class SharedLimits:
    """The named limiters of one node, and the two halves of the exchange."""

    def __init__(self, bus: Bus, limiters: Mapping[str, RateLimiter],
                 clock: Callable[[], int]) -> None:
        self.bus = bus
        self.limiters = dict(limiters)
        self.clock = clock
        self.ignored = 0  # malformed messages from the bus

    async def send(self) -> None:
        """Tell the other nodes what this node took since the last call."""
        for name, limiter in self.limiters.items():
            for message in encode_spent(name, limiter.drain_spent()):
                await self.bus.share(message)

    async def receive(self, data: bytes) -> None:
        """Another node's message: take what it took from this node's buckets."""
        try:
            name, spent = decode_spent(data)
        except ValidationError as exc:
            self.ignored += 1
            log.warning("ignored a rate-limit exchange message: %s", exc)
            return
        limiter = self.limiters.get(name)
        if limiter is not None:
            limiter.absorb(spent, self.clock())

    async def run(self, interval_ms: int = INTERVAL_MS) -> None:
        while True:
            await asyncio.sleep(interval_ms / 1000)
            try:
                await self.send()
            except Exception as exc:  # the exchange must not stop; the limits hold locally
                log.warning("rate-limit exchange failed: %s", type(exc).__name__)
