"""T14 (issue 17), live: a malicious peer provider signs KeyPackage claims with its own
key and invents a new requester name for each; alice's one-time KeyPackages survive.

Two provider processes with the production limits (``--rate-limit-scale 1``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accord.server.state import ServerConfig
from accord.wire import decode, dumps
from accord.wire import federation as fw
from accord.wire import messages as m
from tests.federation.providers import MlsDevice, Provider, federation, signed_post

CLAIM = "/federation/v1/keypackages/claim"
PAIR = int(ServerConfig("x", None).limits["kp_pair"].burst)  # type: ignore[arg-type]
STOCK = 10


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Provider]]:
    provs = federation(tmp_path_factory.mktemp("drain"), ["alpha.test", "beta.test"],
                       scale=1.0)
    try:
        for p in provs:
            p.start()
        yield provs
    finally:
        for p in provs:
            p.stop()


async def test_T14_a_peer_inventing_requesters_cannot_drain_a_users_key_packages(
    strict: list[Provider],
) -> None:
    alpha, beta = strict
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as http:
        alice = MlsDevice(http, "alice@alpha.test")
        await alice.register()
        up = m.UploadKeyPackagesRequest(
            key_packages=[alice.new_key_package() for _ in range(STOCK)],
            last_resort=alice.new_key_package())
        await alice.call("POST", "/v1/keypackages", up, expect=200)
        flags = []
        for i in range(STOCK):
            body = dumps(fw.FedClaimRequest(account=alice.account,
                                            requester=f"invented{i}@beta.test"))
            r = await http.send(signed_post(alpha.url, CLAIM, body, "beta.test",
                                            beta.key().sign))
            assert r.status_code == 200, r.text
            flags.append(decode(m.ClaimResponse, r.json()).key_packages[0].last_resort)
        assert flags == [False] * PAIR + [True] * (STOCK - PAIR)
        status = decode(m.KeyPackageCount,
                        (await alice.call("GET", "/v1/keypackages/count", expect=200)).json())
        assert (status.count, status.last_resort_used, status.withheld) == (
            STOCK - PAIR, True, STOCK - PAIR)
