"""One provider's rate limits, whatever node a request reaches (issue 23).

Each node tells the others over the bus what it took from its limiters
(``accord.server.shared_limits``), by a hash of each bucket's key, and takes
what they took from its own buckets. A client that a load balancer spreads
over N nodes gets what one node grants, not N times as much (T14's claim
limits, registration and posting limits hold for the provider as a whole).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tests.harness import ServerProcess
from tests.pg import create_database, drop_database
from tests.server.cluster import nats_url_or_skip, services_or_skip, start_nodes
from tests.timing import wait_until

from accord import ratelimit
from accord.bus import NatsBus
from accord.errors import RateLimited, ValidationError
from accord.federation.loopback import free_port
from accord.ratelimit import Limit, RateLimiter, bucket_id, decode_spent, encode_spent
from accord.server.shared_limits import SharedLimits
from accord.wire import encode, signing
from accord.wire import messages as m

LIMITS = {"register": Limit(1, 5)}


def _exhaust(limiter: RateLimiter, key: str, now: int) -> None:
    for _ in range(5):
        limiter.check("register", key, now)
    for _ in range(2):  # a refusal leaves the bucket empty
        with pytest.raises(RateLimited):
            limiter.check("register", key, now)


def test_what_one_node_took_is_taken_from_the_others_buckets() -> None:
    a, b = RateLimiter(LIMITS), RateLimiter(LIMITS)
    _exhaust(a, "203.0.113.7", 1_000)
    b.absorb(a.drain_spent(), 1_000)
    with pytest.raises(RateLimited) as exc:
        b.check("register", "203.0.113.7", 1_000)
    assert exc.value.retry_after_ms == 1_000
    b.check("register", "198.51.100.1", 1_000)  # another address: its own bucket
    assert a.drain_spent() == []  # what was told is not told twice


def test_a_debt_is_bounded_by_the_burst() -> None:
    # A node told of far more than a bucket holds refills from minus the burst, not forever.
    b = RateLimiter(LIMITS)
    b.absorb([("register", bucket_id("x"), 1e12)], 0)
    with pytest.raises(RateLimited):
        b.check("register", "x", 5_000)
    b.check("register", "x", 6_000)  # 5 tokens of debt and 1 to take: 6 s at 1/s


def test_the_exchange_never_carries_a_key() -> None:
    limiter = RateLimiter(LIMITS)
    limiter.check("register", "203.0.113.7", 0)
    [message] = encode_spent("provider", limiter.drain_spent())
    assert b"203.0.113.7" not in message
    assert decode_spent(message) == ("provider", [("register", bucket_id("203.0.113.7"), 1.0)])


@pytest.mark.parametrize("data", [
    b"not json", b"[]", b'{"v":2,"limiter":"p","spent":[]}',
    b'{"v":1,"limiter":"p","spent":[["register","00",1]]}',
    b'{"v":1,"limiter":"p","spent":[["register","' + b"0" * 32 + b'",-1]]}',
    b'{"v":1,"limiter":"p","spent":[["register","' + b"0" * 32 + b'",NaN]]}',
    b'{"v":1,"limiter":"p","spent":[["register","' + b"0" * 32 + b'",true]]}',
    b"{" + b" " * ratelimit.MAX_SPENT_MESSAGE + b"}",
])
def test_a_malformed_exchange_message_is_refused(data: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_spent(data)


async def test_a_malformed_message_is_counted_and_changes_nothing() -> None:
    limiter = RateLimiter(LIMITS)
    shared = SharedLimits(bus=None, limiters={"provider": limiter}, clock=lambda: 0)  # type: ignore[arg-type]
    await shared.receive(b'{"v":1,"limiter":"provider","spent":[["register","zz",5]]}')
    assert shared.ignored == 1
    limiter.check("register", "zz", 0)


def test_what_waits_to_be_told_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_PENDING", 3)
    limiter = RateLimiter(LIMITS)
    for i in range(5):
        limiter.check("register", f"k{i}", 0)
    assert len(limiter.drain_spent()) == 3 and limiter.untold == 2


@pytest.mark.nats
async def test_two_nodes_share_one_limit_over_nats() -> None:
    url = nats_url_or_skip()
    subject = f"accord.test.{secrets.token_hex(4)}"
    buses = [NatsBus(url, subject), NatsBus(url, subject)]
    limiters = [RateLimiter(LIMITS), RateLimiter(LIMITS)]
    told = asyncio.Event()
    nodes = [SharedLimits(bus, {"provider": lim}, lambda: 1_000)
             for bus, lim in zip(buses, limiters, strict=True)]

    async def heard(data: bytes) -> None:
        await nodes[1].receive(data)
        told.set()

    async def nothing(ids: list[str]) -> None:
        return None

    await buses[0].start(nothing, shared=nodes[0].receive)
    await buses[1].start(nothing, shared=heard)
    try:
        await buses[1]._nc.flush()
        _exhaust(limiters[0], "203.0.113.7", 1_000)
        await nodes[0].send()
        await asyncio.wait_for(told.wait(), timeout=5)
        with pytest.raises(RateLimited):
            limiters[1].check("register", "203.0.113.7", 1_000)
        # A node does not take its own spending twice: NATS echoes its message, unread.
        await buses[0]._nc.flush()
        assert nodes[0].ignored == 0
        limiters[0].check("register", "203.0.113.7", 2_000)  # refilled 1, not in debt
    finally:
        for bus in buses:
            await bus.close()


# --- two `accord server` processes on one PostgreSQL and NATS ---------------------------

@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[list[ServerProcess]]:
    admin, nats_url = services_or_skip()
    url, name = await create_database(admin)
    nodes: list[ServerProcess] = []
    try:
        # rate_limit_scale 1: the provider's real per-address registration limit
        ports = [free_port(), free_port()]
        nodes = await asyncio.to_thread(
            start_nodes, tmp_path, url, nats_url, 2,
            lambda i: ("--metrics-bind", f"127.0.0.1:{ports[i]}"), 1)
        yield nodes
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
        await drop_database(admin, name)


def _absorbed(node: ServerProcess, kind: str) -> float:
    bind = node.extra_args[node.extra_args.index("--metrics-bind") + 1]
    text = httpx.get(f"http://{bind}/metrics", timeout=5).text
    found = re.search(rf'^accord_rate_limit_absorbed_tokens_total{{limit="{kind}"}} (\S+)$',
                      text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def _register(http: httpx.AsyncClient, node: ServerProcess) -> int:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    account = f"u{secrets.token_hex(5)}@{node.domain}"
    req = m.RegisterRequest(account=account, signature_key=public,
                            signature=key.sign(signing.register_input(account, public)))
    r = await http.post(f"{node.url}/v1/accounts", content=json.dumps(encode(req)),
                        headers={"content-type": "application/json"})
    assert r.status_code in (201, 429), r.text
    return r.status_code


@pytest.mark.pg
@pytest.mark.nats
async def test_T14_a_second_node_refuses_what_the_first_already_granted(
        two_nodes: list[ServerProcess]) -> None:
    """Registrations from one address are limited per provider: after the burst on node
    0, node 1 refuses too, instead of granting a fresh burst of its own."""
    first, second = two_nodes
    async with httpx.AsyncClient(timeout=10) as http:
        burst = [await _register(http, first) for _ in range(20)]
        assert burst == [201] * 20  # the "register" burst (state.py): 20 per address
        # node 1 has heard of the burst: its metrics count what it took from its buckets
        await wait_until(lambda: _absorbed(second, "register") >= 20, 10,
                         "node 1 taking node 0's registrations from its own buckets")
        started = time.monotonic()
        answers = [await _register(http, second) for _ in range(25)]  # bounded
        elapsed = time.monotonic() - started
    # Alone, node 1 would grant 20 of these from a burst of its own; shared, only what
    # the provider's bucket refilled meanwhile (1 a second), give or take one interval.
    assert 429 in answers
    assert answers.count(201) <= elapsed + 2, (answers, elapsed)
