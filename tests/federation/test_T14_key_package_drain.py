"""T14 (issue 17), live: a malicious peer provider signs KeyPackage claims with its own
key and invents a new requester name for each; alice's one-time KeyPackages survive.

Two provider processes with the production limits (``--rate-limit-scale 1``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from accord.mls.structs import MLSMessage
from accord.server.state import ServerConfig
from accord.wire import decode, dumps
from accord.wire import federation as fw
from accord.wire import messages as m
from accord.wire import mimi as w
from tests.engine import running
from tests.federation.providers import MlsDevice, Provider, signed_post

CLAIM = "/federation/v1/keypackages/claim"
PAIR = int(ServerConfig("x", None).limits["kp_pair"].burst)  # type: ignore[arg-type]
STOCK = 10


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Provider]]:
    with running(tmp_path_factory.mktemp("drain"), ["alpha.test", "beta.test"],
                 scale=1.0) as provs:
        yield list(provs.values())


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


async def test_T14_mimi_key_material_claims_are_limited_as_every_claim(
    strict: list[Provider],
) -> None:
    """The MIMI endpoint (draft-ietf-mimi-protocol-06 5.2) goes through the same
    ``admit_claim``: invented requesters get the last-resort KeyPackage after the
    pair's budget, and the owner sees it in the count."""
    from tests.federation.test_mimi_transport import _km_path, key_material_request

    alpha, beta = strict
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20) as http:
        carol = MlsDevice(http, "carol@alpha.test")
        await carol.register()
        last_resort = carol.new_key_package()
        up = m.UploadKeyPackagesRequest(
            key_packages=[carol.new_key_package() for _ in range(STOCK)], last_resort=last_resort)
        await carol.call("POST", "/v1/keypackages", up, expect=200)
        target = w.mimi_user_uri(carol.account)
        flags = []
        for i in range(STOCK):
            req = key_material_request(f"mimi://beta.test/u/invented{i}", target)
            r = await http.send(signed_post(alpha.url, _km_path(target), req.to_bytes(),
                                            "beta.test", beta.key().sign))
            assert r.status_code == 200, r.text
            [client] = w.KeyMaterialResponse.from_bytes(r.content).clients
            assert client.key_package is not None
            flags.append(MLSMessage.wrap(client.key_package).to_bytes() == last_resort)
        assert flags == [False] * PAIR + [True] * (STOCK - PAIR)
        status = decode(m.KeyPackageCount,
                        (await carol.call("GET", "/v1/keypackages/count", expect=200)).json())
        assert (status.count, status.withheld) == (STOCK - PAIR, STOCK - PAIR)
