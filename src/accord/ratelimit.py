"""Token buckets keyed by (kind, key), with time passed in (``now`` in ms).

State is in memory: a limit is a brake on abuse, not an accounting record, and
keeping it out of the store keeps posting keys and addresses out of the
database (T11). With several nodes a limit is the provider's, not each
node's (issue 23): every node tells the others what it took (``drain_spent``,
sent over the bus by ``accord.server.shared_limits``) and takes what they
took from its own buckets (``absorb``), so N nodes behind a load balancer
grant what one node would, give or take what each grants in one exchange
interval. The exchange names a bucket by a hash of its key, never the
address or account itself (``bucket_id``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from dataclasses import dataclass

from accord.errors import RateLimited, ValidationError

MAX_PENDING = 20_000  # distinct buckets whose spending waits for the next exchange
MAX_SPENT_MESSAGE = 1 << 20  # bytes of one exchange message, sent or read


def bucket_id(key: str) -> str:
    """What the exchange calls a bucket: a hash of its key, so the bus never
    carries an address, account or device id."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


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
        # What this node took since the last exchange, by (kind, bucket id): sent to
        # the other nodes. Bounded: past MAX_PENDING buckets, spending goes untold
        # (counted in ``untold``) rather than growing memory.
        self._spent: dict[tuple[str, str], float] = {}
        self.untold = 0
        self.absorbed: dict[str, float] = {}  # tokens other nodes took, by kind (metrics)

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
        bid = bucket_id(key)
        tokens = self._refilled(limit, buckets, bid, now)
        if tokens < cost:
            self._store(buckets, bid, tokens, now)
            if limit.per_second <= 0 or cost > limit.burst:
                return 2**31  # never refills to ``cost``: a long wait, not a busy loop
            return max(1, math.ceil((cost - tokens) * 1000.0 / limit.per_second))
        self._store(buckets, bid, tokens - cost, now)
        spent = (kind, bid)
        if spent in self._spent or len(self._spent) < MAX_PENDING:
            self._spent[spent] = self._spent.get(spent, 0.0) + cost
        else:
            self.untold += 1
        return None

    def _refilled(self, limit: Limit, buckets: OrderedDict[str, tuple[float, int]],
                  bid: str, now: int) -> float:
        """The bucket's tokens at ``now`` (taken out of the LRU; ``_store`` puts it back)."""
        tokens, last = buckets.pop(bid, (limit.burst, now))
        return min(limit.burst, tokens + max(0, now - last) * limit.per_second / 1000.0)

    def _store(self, buckets: OrderedDict[str, tuple[float, int]], bid: str,
               tokens: float, now: int) -> None:
        buckets[bid] = (tokens, now)
        # Forget the least recently used buckets so memory stays bounded.
        while len(buckets) > self.max_keys:
            buckets.popitem(last=False)

    def forget(self, kind: str, key: str) -> None:
        self._buckets.get(kind, OrderedDict()).pop(bucket_id(key), None)

    def drain_spent(self) -> list[tuple[str, str, float]]:
        """What this node took since the last call, as (kind, bucket id, tokens)."""
        spent, self._spent = self._spent, {}
        return [(kind, bid, cost) for (kind, bid), cost in spent.items()]

    def absorb(self, spent: list[tuple[str, str, float]], now: int) -> None:
        """Take from this node's buckets what another node took from its own.

        A bucket may go into debt, down to minus its burst: tokens granted
        elsewhere in the same interval are paid back before this node grants
        more. Kinds this node does not know are ignored (another version).
        """
        for kind, bid, cost in spent:
            limit = self.limits.get(kind)
            if limit is None:
                continue
            buckets = self._buckets.setdefault(kind, OrderedDict())
            tokens = self._refilled(limit, buckets, bid, now)
            self._store(buckets, bid, max(-limit.burst, tokens - cost), now)
            self.absorbed[kind] = self.absorbed.get(kind, 0.0) + cost


def encode_spent(limiter: str, spent: list[tuple[str, str, float]]) -> list[bytes]:
    """One or more exchange messages for ``spent`` (each under MAX_SPENT_MESSAGE)."""
    messages: list[bytes] = []
    step = 4096  # about 70 bytes an entry: well under the cap
    for i in range(0, len(spent), step):
        body = {"v": 1, "limiter": limiter,
                "spent": [[k, b, round(c, 6)] for k, b, c in spent[i:i + step]]}
        messages.append(json.dumps(body, separators=(",", ":")).encode())
    return messages


def decode_spent(data: bytes) -> tuple[str, list[tuple[str, str, float]]]:
    """The limiter's name and its entries; :class:`ValidationError` for anything else."""
    if len(data) > MAX_SPENT_MESSAGE:
        raise ValidationError("rate-limit exchange message too large")
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise ValidationError("rate-limit exchange message is not JSON") from exc
    if not isinstance(body, dict) or body.get("v") != 1 or not isinstance(
            body.get("limiter"), str) or not isinstance(body.get("spent"), list):
        raise ValidationError("rate-limit exchange message has the wrong shape")
    entries: list[tuple[str, str, float]] = []
    for entry in body["spent"]:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str) and len(entry[1]) == 32
                and isinstance(entry[2], int | float) and not isinstance(entry[2], bool)
                and 0 < entry[2] < float("inf")):
            raise ValidationError("rate-limit exchange entry has the wrong shape")
        entries.append((entry[0], entry[1], float(entry[2])))
    return body["limiter"], entries
