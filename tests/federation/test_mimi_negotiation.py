"""Transport chosen per peer from its MIMI directory (issue 22, docs/INTEROP.md "MIMI
transport", docs/PROTOCOL.md "Advertisement and negotiation").

alpha.test and beta.test run Accord on its earlier transport (``--accord-transport``);
plain.test runs ``--mimi-plain``: its directory lists no ``accord-*`` extension, it
serves no ``/federation/v1``, signs nothing and sends MIMI only. All three federate over
mutual TLS with a CA of this test, each reached through a recording proxy. A room hubbed
by Accord with a plain member, and a room hubbed by the plain provider with Accord
members, go through adds, messages both ways and a removal: everything that crosses to or
from plain.test is a MIMI endpoint of the draft (decoded with the draft's structures),
while alpha and beta keep Accord's own routes between themselves (hidden senders, T11).
"""

from __future__ import annotations

import dataclasses
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from accord.mls import group as g
from accord.mls.secret_tree import GenerationUnavailable
from accord.mls.structs import Remove
from accord.wire import decode, encode
from accord.wire import mimi as w
from accord.wire import privacy as pr
from tests.engine import engine_params
from tests.federation.capture import Exchange, Wire, draft_decode, endpoint_of
from tests.federation.groups import join_from_queue, user
from tests.federation.providers import MlsDevice, Provider
from tests.federation.test_mimi_example_flow import add, commit, named_post
from tests.federation.test_mtls import Authority
from tests.federation.tls_capture import captured_tls_federation
from tests.privacy.helpers import content, open_item, post, rows

A, B, P = "alpha.test", "beta.test", "plain.test"
MIMI_ENDPOINTS = {"directory", "keyMaterial", "update", "submitMessage", "notify",
                  "groupInfo", "reportAbuse"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pki")
    ca = Authority("Accord negotiation test CA")
    files = {"ca": ca.write(root / "ca.pem")}
    for d in (A, B, P):
        files[d], files[d + ".key"] = ca.issue(d, root / "ca")
    return files


@pytest.fixture(scope="module", params=engine_params())
def captured(request: pytest.FixtureRequest, pki: dict[str, Path],
             tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_tls_federation(tmp_path_factory.mktemp("negotiate"), [A, B, P], pki,
                                 plain={P}, mimi=False) as out:
        yield out


@pytest.fixture
async def http(captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path]
               ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A device's connection to each provider (the test CA; no client certificate)."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = False  # providers at 127.0.0.1, their certificates name domains
    provs, _ = captured
    out = {d: httpx.AsyncClient(base_url=p.url, timeout=20.0, verify=ctx)
           for d, p in provs.items()}
    try:
        yield out
    finally:
        for c in out.values():
            await c.aclose()


def _from(x: Exchange) -> str:
    return x.sender or x.tls_client


def plain_traffic(exchanges: list[Exchange]) -> list[Exchange]:
    return [x for x in exchanges if P in (x.to, _from(x))]


def assert_mimi_only(exchanges: list[Exchange]) -> None:
    """Every exchange with plain.test is a MIMI endpoint of the draft, decoded with the
    draft's structures, and nothing of Accord's (no /federation/v1, no /.well-known/accord)."""
    assert exchanges
    for x in exchanges:
        assert endpoint_of(x) in MIMI_ENDPOINTS, (x.method, x.path, x.to, _from(x))
        draft_decode(x)
        if _from(x) == P:  # the plain provider signs nothing: mutual TLS alone
            assert "signature" not in x.request_headers, x.path


def leaf_of(dev: MlsDevice, member: MlsDevice) -> int:
    [leaf] = [i for i, node in g.members(dev.state) if node.credential.identity == member.identity]
    return leaf


async def receive(dev: MlsDevice, n: int = 1) -> list[bytes | None]:
    """The next ``n`` items of ``dev``'s queue, processed (application data or None),
    then acknowledged. The device's own posts come back to it (the hub does not know
    the sender, T11): those, whose keys it used already, are skipped."""
    out: list[bytes | None] = []
    while len(out) < n:
        item = (await dev.wait_items(1))[0]
        try:
            out.append(dev.read(item.body))
        except GenerationUnavailable:
            assert item.kind == "application"
        await dev.call("POST", "/v1/queue/ack", {"up_to": item.seq}, expect=200)
    return out


async def test_an_accord_hub_serves_a_plain_mimi_member_over_mimi_and_accord_peers_over_accord(
    captured: tuple[dict[str, Provider], Wire], http: dict[str, httpx.AsyncClient],
) -> None:
    """alice@alpha hubs; pete@plain and bob@beta join; each posts; pete is removed."""
    _, wire = captured
    mark = wire.mark()
    tag = secrets.token_hex(3)
    alice = await user(http[A], f"alice{tag}@{A}")
    bob = await user(http[B], f"bob{tag}@{B}")
    pete = await user(http[P], f"pete{tag}@{P}")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await add(alice, await alice.claim(pete.account))  # keyMaterial, notify (Welcome)
    await join_from_queue(pete)
    await add(alice, await alice.claim(bob.account))  # Accord's claim and deliver
    await join_from_queue(bob)
    assert await receive(pete) == [None]  # the commit that added bob

    await alice.post(b"from the hub")  # hidden sender, fanned out over notify and deliver
    assert await receive(pete) == [b"from the hub"]
    assert await receive(bob) == [b"from the hub"]
    await named_post(pete, gid, b"from plain")  # plain's submitMessage to the hub
    assert await receive(alice) == [b"from plain"]
    assert await receive(bob) == [b"from plain"]
    await bob.post(b"from beta")  # beta -> alpha on Accord's hidden-sender route
    assert await receive(pete) == [b"from beta"]
    assert await receive(alice) == [b"from beta"]

    await commit(alice, [Remove(leaf_of(alice, pete))], [], [pete.device_id])
    assert await receive(bob) == [None]
    assert pete.identity not in {n.credential.identity for _, n in g.members(bob.state)}

    exchanges = wire.since(mark)
    assert_mimi_only(plain_traffic(exchanges))
    with_plain = {(endpoint_of(x), _from(x), x.to) for x in plain_traffic(exchanges)}
    assert {("keyMaterial", A, P), ("notify", A, P), ("submitMessage", P, A)} <= with_plain
    between = [x for x in exchanges if {x.to, _from(x)} == {A, B}]
    paths = {x.path for x in between}
    # Accord peers keep Accord's routes: the hidden-sender post and Accord's fan-out
    assert {"/federation/v1/posts", "/federation/v1/deliver",
            "/federation/v1/keypackages/claim"} <= paths, paths
    assert not any(endpoint_of(x) in MIMI_ENDPOINTS - {"directory"} for x in between), paths
    [post] = [x for x in between if x.path == "/federation/v1/posts"]
    assert bob.account.encode() not in post.request_body  # T11: no sender named


async def test_a_plain_mimi_hub_serves_accord_members_over_mimi_only(
    captured: tuple[dict[str, Provider], Wire], http: dict[str, httpx.AsyncClient],
) -> None:
    """pete@plain hubs; alice@alpha joins, adds bob@beta through the hub (keyMaterial
    relayed, update); alice and bob post (submitMessage); pete removes alice."""
    _, wire = captured
    mark = wire.mark()
    tag = secrets.token_hex(3)
    pete = await user(http[P], f"pete{tag}@{P}")
    alice = await user(http[A], f"alice{tag}@{A}")
    bob = await user(http[B], f"bob{tag}@{B}")
    gid = secrets.token_bytes(16)
    await pete.create_group(gid)
    await add(pete, await pete.claim(alice.account))  # unsigned keyMaterial, mTLS only
    await join_from_queue(alice)
    await add(alice, await alice.claim(bob.account, group=gid))  # through the plain hub
    await join_from_queue(bob)
    assert await receive(pete) == [None]  # alice's commit, ordered by the plain hub

    await pete.post(b"from the plain hub")
    assert await receive(alice) == [b"from the plain hub"]
    assert await receive(bob) == [b"from the plain hub"]
    await named_post(alice, gid, b"from alpha")  # alpha names alice: MIMI 5.4
    assert await receive(pete) == [b"from alpha"]
    assert await receive(bob) == [b"from alpha"]
    await named_post(bob, gid, b"from beta")
    assert await receive(pete) == [b"from beta"]
    assert await receive(alice) == [b"from beta"]

    await commit(pete, [Remove(leaf_of(pete, alice))], [], [alice.device_id])
    assert await receive(bob) == [None]
    assert alice.identity not in {n.credential.identity for _, n in g.members(bob.state)}

    exchanges = wire.since(mark)
    assert_mimi_only(plain_traffic(exchanges))
    with_plain = {(endpoint_of(x), _from(x), x.to) for x in plain_traffic(exchanges)}
    assert {("keyMaterial", P, A), ("notify", P, A), ("notify", P, B),
            ("keyMaterial", A, P), ("keyMaterial", P, B), ("update", A, P),
            ("submitMessage", A, P), ("submitMessage", B, P)} <= with_plain, with_plain
    # the room lives at plain.test: alpha and beta have nothing to say to each other
    assert not [x for x in exchanges if {x.to, _from(x)} == {A, B}
                and endpoint_of(x) != "directory"]


async def test_T13_a_report_to_a_plain_hub_goes_over_mimi_report_abuse(
    captured: tuple[dict[str, Provider], Wire], http: dict[str, httpx.AsyncClient],
) -> None:
    """pete@plain hubs; alice@alpha reports pete's message through alpha, which sends the
    plain hub the draft's AbuseReport (5.9; before this, Accord's /federation/v1/reports,
    which a plain peer does not serve); the plain hub verifies and files it with the
    reason and note. A forged one is acknowledged and not filed."""
    provs, wire = captured
    tag = secrets.token_hex(3)
    pete = await user(http[P], f"pete{tag}@{P}")
    alice = await user(http[A], f"alice{tag}@{A}")
    gid = secrets.token_bytes(16)
    await pete.create_group(gid)
    await add(pete, await pete.claim(alice.account))
    await join_from_queue(alice)
    assert (await post(http[P], pete, content("abuse from the plain hub"))).status_code == 201
    item = [i for i in await alice.wait_items(1) if i.kind == "application"][-1]
    assert item.frank is not None
    opened = open_item(alice, item)
    before = len(rows(provs[P])["abuse_reports"])
    good = pr.ReportRequest(group_id=gid, created_at=item.created_at, content=opened.encoded,
                            frank=item.frank, alleged_sender=pete.account, reason_code=2,
                            note="spam")

    mark = wire.mark()
    r = await http[A].post("/v1/reports", json=encode(good), headers=alice.auth)
    assert r.status_code == 200, r.text
    assert decode(pr.ReportResult, r.json()).outcome == pr.ACKNOWLEDGED
    sent = wire.since(mark)
    assert_mimi_only(plain_traffic(sent))
    [x] = [x for x in sent if endpoint_of(x) == "reportAbuse"]
    assert (_from(x), x.to, x.status) == (A, P, 201)
    filed = rows(provs[P])["abuse_reports"]
    assert len(filed) == before + 1
    assert (filed[-1][2], filed[-1][3], bytes(filed[-1][4]), filed[-1][8], filed[-1][9]) == (
        f"via {A}", pete.account, opened.encoded, 2, "spam")

    forged = dataclasses.replace(good, created_at=item.created_at + 1)
    r = await http[A].post("/v1/reports", json=encode(forged), headers=alice.auth)
    assert r.status_code == 200, r.text
    assert decode(pr.ReportResult, r.json()).outcome == pr.ACKNOWLEDGED
    assert len(rows(provs[P])["abuse_reports"]) == before + 1


async def test_an_accord_follower_adds_a_plain_user_through_the_accord_hub(
    captured: tuple[dict[str, Provider], Wire], http: dict[str, httpx.AsyncClient],
) -> None:
    """bob@beta, in alice@alpha's room, adds pete@plain: beta claims pete's key material
    over MIMI through the hub (alpha relays it to plain.test), and sends the commit to
    alpha on Accord's own route; alpha places pete's device by the KeyPackage it relayed."""
    _, wire = captured
    mark = wire.mark()
    tag = secrets.token_hex(3)
    alice = await user(http[A], f"alice{tag}@{A}")
    bob = await user(http[B], f"bob{tag}@{B}")
    pete = await user(http[P], f"pete{tag}@{P}")
    gid = secrets.token_bytes(16)
    await alice.create_group(gid)
    await add(alice, await alice.claim(bob.account))
    await join_from_queue(bob)
    await add(bob, await bob.claim(pete.account, group=gid))
    await join_from_queue(pete)
    assert await receive(alice) == [None]  # bob's commit
    await named_post(pete, gid, b"hello from plain")
    assert await receive(alice) == [b"hello from plain"]
    assert await receive(bob) == [b"hello from plain"]

    exchanges = wire.since(mark)
    assert_mimi_only(plain_traffic(exchanges))
    with_plain = {(endpoint_of(x), _from(x), x.to) for x in plain_traffic(exchanges)}
    assert {("keyMaterial", A, P), ("notify", A, P), ("submitMessage", P, A)} <= with_plain
    between = {(x.path, _from(x), x.to) for x in exchanges if {x.to, _from(x)} == {A, B}}
    assert ("/federation/v1/commits", B, A) in between, between
    assert any(x.path.startswith("/mimi/v1/keyMaterial/") and _from(x) == B
               for x in exchanges)  # through the hub, 5.2


# ------------------------------------------------------------------ the defences

def _query(domain: str) -> bytes:
    return w.IdentifierRequest((w.QueryElement(1, None, f"nobody@{domain}".encode()),)
                               ).to_bytes()


async def unsigned(provs: dict[str, Provider], pki: dict[str, Path], to: str, cert: str,
                   source: str | None, path: str | None = None,
                   body: bytes | None = None) -> httpx.Response:
    """An unsigned request to ``to`` (the provider itself, not its proxy) over mutual TLS
    with ``cert``'s certificate, ``From: mimi@source``; by default an identifier query."""
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = False
    ctx.load_cert_chain(pki[cert], pki[cert + ".key"])
    headers = {"Content-Type": w.MEDIA_TYPE}
    if source is not None:
        headers["From"] = f"mimi@{source}"
    async with httpx.AsyncClient(base_url=provs[to].url, timeout=20.0, verify=ctx) as c:
        return await c.post(path or f"/mimi/v1/identifierQuery/{to}",
                            content=_query(to) if body is None else body, headers=headers)


async def test_a_plain_mimi_peer_is_taken_on_its_certificate_alone(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
) -> None:
    provs, _ = captured
    r = await unsigned(provs, pki, A, P, P)
    assert r.status_code == 200, r.text
    assert w.IdentifierResponse.from_bytes(r.content).response_code == (
        w.IdentifierQueryCode.NOT_FOUND)


async def test_T01_an_accord_peer_cannot_be_downgraded_to_an_unsigned_request(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
) -> None:
    """With alpha's own certificate (a stolen or misissued one, or an attacker who
    strips the signature in transit), an unsigned request in alpha's name is refused at
    beta: alpha's directory lists Accord's extensions, so alpha must sign."""
    provs, _ = captured
    r = await unsigned(provs, pki, B, A, A)
    assert r.status_code == 401, r.text
    assert "must be signed" in r.json()["message"]


async def test_T01_an_unsigned_request_needs_a_certificate_naming_its_from(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
) -> None:
    provs, _ = captured
    r = await unsigned(provs, pki, A, B, P)  # beta's certificate, From plain
    assert r.status_code == 401, r.text
    r = await unsigned(provs, pki, A, P, None)  # no From: no provider named
    assert r.status_code == 401, r.text
    assert "From" in r.json()["message"]
    r = await unsigned(provs, pki, P, A, None)  # the plain provider asks for From too
    assert r.status_code == 401, r.text


async def test_T01_accord_routes_never_take_an_unsigned_request(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
) -> None:
    """Only the MIMI endpoints take a plain peer on its certificate; Accord's own peer
    API always wants the signature, whoever asks."""
    provs, _ = captured
    r = await unsigned(provs, pki, A, P, P, "/federation/v1/deliver", b'{"items": []}')
    assert r.status_code == 401, r.text


async def test_the_plain_provider_offers_nothing_of_accords_own(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
    http: dict[str, httpx.AsyncClient],
) -> None:
    provs, _ = captured
    plain = (await http[P].get("/.well-known/mimi-protocol-directory")).json()
    accord = (await http[A].get("/.well-known/mimi-protocol-directory")).json()
    assert "keyMaterial" in plain and not [k for k in plain if k.startswith("accord-")]
    assert {k for k in accord if k.startswith("accord-")}
    assert (await http[P].get("/.well-known/accord")).status_code == 404
    r = await unsigned(provs, pki, P, A, A, "/federation/v1/deliver", b'{"items": []}')
    assert r.status_code == 404, r.text


async def test_T07_an_unsigned_request_carries_no_extension_header(
    captured: tuple[dict[str, Provider], Wire], pki: dict[str, Path],
) -> None:
    """Accord's extension headers (the chain links of accord-forkDetection) count only
    under the RFC 9421 signature that covers them: a plain peer's unsigned request that
    carries one is refused (401), though the same request without it is taken."""
    provs, _ = captured
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    ctx.check_hostname = False
    ctx.load_cert_chain(pki[P], pki[P + ".key"])
    headers = {"Content-Type": w.MEDIA_TYPE, "From": f"mimi@{P}",
               "accord-handshake-chain": ":AA==:"}
    async with httpx.AsyncClient(base_url=provs[A].url, timeout=20.0, verify=ctx) as c:
        r = await c.post(f"/mimi/v1/identifierQuery/{A}", content=_query(A), headers=headers)
    assert r.status_code == 401 and "travel signed" in r.text, r.text
