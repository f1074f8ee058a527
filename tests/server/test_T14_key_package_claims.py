"""KeyPackage claims cannot drain a user's one-time stock (issue 17, T14), with a fake clock.

The limits are those a running provider uses (``ServerConfig`` defaults):
a claimer over its own limit gets a typed 429 with a wait; a claimer over
its budget for one target, or a target over its budget, gets the
last-resort KeyPackage; the owner learns both from its status.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.server.test_services import register

from accord.errors import RateLimited
from accord.federation import provider_key
from accord.federation.service import start as start_federation
from accord.ratelimit import Limit, RateLimiter
from accord.server import federation_routes as fed_routes
from accord.server import keypackages
from accord.server.errors import error_response
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import federation as fw

STOCK = 30


async def _owner(p: Provider, name: str = "target") -> DeviceRecord:
    device_id, _, _ = await register(p, name)
    await p.store.add_key_packages(device_id, [b"kp-%d" % i for i in range(STOCK)],
                                   b"last-resort")
    return await p.store.get_device(device_id)


async def _account(p: Provider, name: str) -> DeviceRecord:
    return await p.store.get_device((await register(p, name))[0])


async def test_T14_one_local_account_cannot_drain_a_users_one_time_key_packages(
    provider: Provider, clock
) -> None:
    target = await _owner(provider)
    eve = await _account(provider, "eve")
    got = [await keypackages.claim(provider, target.account, eve, clock())
           for _ in range(STOCK)]  # all within the same millisecond
    flags = [r.key_packages[0].last_resort for r in got]
    pair = int(provider.config.limits["kp_pair"].burst)
    assert flags == [False] * pair + [True] * (STOCK - pair)
    assert {r.key_packages[0].key_package for r in got[pair:]} == {b"last-resort"}
    status = await keypackages.count(provider, target)
    assert status.count == STOCK - pair
    # The owner is told: the last resort was handed out, and why.
    assert status.last_resort_used and status.withheld == STOCK - pair


async def test_T14_many_claimers_together_cannot_drain_one_target(
    provider: Provider, clock
) -> None:
    target = await _owner(provider)
    claimers = [await _account(provider, f"sybil{i}") for i in range(STOCK)]
    got = [await keypackages.claim(provider, target.account, c, clock()) for c in claimers]
    budget = int(provider.config.limits["kp_target"].burst)
    assert [r.key_packages[0].last_resort for r in got].count(False) == budget
    assert (await keypackages.count(provider, target)).count == STOCK - budget
    # The budget comes back with time: one more one-time KeyPackage after the refill.
    clock.advance(int(1000 / provider.config.limits["kp_target"].per_second) + 1)
    late = await _account(provider, "late")
    assert not (await keypackages.claim(provider, target.account, late, clock())
                ).key_packages[0].last_resort


async def test_T14_a_claimer_over_its_limit_gets_429_with_retry_after(
    provider: Provider, clock
) -> None:
    await _owner(provider)
    eve = await _account(provider, "eve")
    limit = provider.config.limits["kp_claimer"]
    for _ in range(int(limit.burst)):
        await keypackages.claim(provider, "target@alpha.test", eve, clock())
    with pytest.raises(RateLimited) as err:
        await keypackages.claim(provider, "target@alpha.test", eve, clock())
    wait = round(1000 / limit.per_second)
    assert err.value.retry_after_ms == wait
    response = error_response(err.value)
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(wait // 1000)
    clock.advance(wait)
    await keypackages.claim(provider, "target@alpha.test", eve, clock())  # allowed again


async def test_T14_the_last_resort_is_handed_out_when_one_time_ones_run_out_and_rotated(
    provider: Provider, clock
) -> None:
    target = await _owner(provider)
    for _ in range(STOCK):  # the store itself does not limit: use the stock up
        await provider.store.claim_key_packages(target.account, now=clock())
    friend = await _account(provider, "friend")
    got = await keypackages.claim(provider, target.account, friend, clock())
    assert got.key_packages[0].last_resort
    status = await keypackages.count(provider, target)
    assert (status.count, status.last_resort_used, status.withheld) == (0, True, 0)
    # The owner's device rotates it: a new upload is unused again.
    await provider.store.add_key_packages(target.device_id, [], b"last-resort-2")
    status = await keypackages.count(provider, target)
    assert (status.last_resort, status.last_resort_used, status.withheld) == (True, False, 0)


@pytest.fixture
async def fed_provider(provider: Provider, tmp_path: Path):
    key = await provider_key.signing_key(tmp_path, provider.store.secrets)
    fed = start_federation(provider, key, {})
    yield provider
    await fed.close()


def _fed_claim(account: str, requester: str) -> fw.FedClaimRequest:
    return fw.FedClaimRequest(account=account, requester=requester)


async def test_T14_a_peer_inventing_requester_names_cannot_drain_key_packages(
    fed_provider: Provider, clock
) -> None:
    p = fed_provider
    target = await _owner(p)
    got = [await fed_routes._claim(p.federation, "beta.test",
                                   _fed_claim(target.account, f"u{i}@beta.test"), clock())
           for i in range(STOCK)]
    pair = int(p.config.limits["kp_pair"].burst)
    assert [r.key_packages[0].last_resort for r in got].count(False) == pair
    assert (await keypackages.count(p, target)).count == STOCK - pair


async def test_T14_a_peer_is_limited_as_a_whole_whatever_requesters_it_names(
    fed_provider: Provider, clock
) -> None:
    p = fed_provider
    await _owner(p)
    for i in range(int(p.config.limits["kp_peer"].burst)):
        await fed_routes._claim(p.federation, "beta.test",
                                _fed_claim("target@alpha.test", f"n{i}@beta.test"), clock())
    with pytest.raises(RateLimited) as err:
        await fed_routes._claim(p.federation, "beta.test",
                                _fed_claim("target@alpha.test", "fresh@beta.test"), clock())
    assert err.value.retry_after_ms == round(1000 / p.config.limits["kp_peer"].per_second)
    # Another peer provider is not affected.
    await fed_routes._claim(p.federation, "gamma.test",
                            _fed_claim("target@alpha.test", "x@gamma.test"), clock())


def test_T14_a_peers_429_reaches_the_device_with_its_wait() -> None:
    from accord.federation.peer_client import _answer
    from accord.wire import messages as m

    answer = httpx.Response(429, json={"error": "rate_limited", "message": "slow down"},
                            headers={"retry-after": "10"})
    with pytest.raises(RateLimited) as err:
        _answer("beta.test", answer, m.ClaimResponse)
    assert err.value.retry_after_ms == 10_000


def test_T14_a_flood_of_fresh_keys_of_one_kind_resets_no_other_limit() -> None:
    # Many addresses (or invented names) fill their own kind's buckets only: the
    # target's spent budget stays spent.
    rl = RateLimiter({"probe": Limit(1, 1), "kp_target": Limit(0.001, 1)}, max_keys=10)
    assert rl.take("kp_target", "alice@alpha.test", 0)
    for i in range(100):
        rl.check("probe", f"2001:db8::{i:x}", 0)
    assert not rl.take("kp_target", "alice@alpha.test", 0)
