"""Accord's extensions to MIMI, used towards a peer only as its directory lists them
(issue 22; docs/PROTOCOL.md "Accord extensions to MIMI", docs/INTEROP.md "MIMI transport").

alpha.test and beta.test both run ``--mimi-transport`` and are reached through recording
proxies; Accord's full client library (real devices) does everything. With every
extension listed, alice@alpha adds bob@beta (beta's ``accord-deviceList`` before the
claim), bob's posts to alice's room go to alpha's ``accord-hiddenSenders`` URL with no
sender (T11), and an attachment crosses by MIMI's direct download (5.10.1). With alpha
withholding ``accord-hiddenSenders`` and beta ``accord-deviceList`` (``--mimi-withhold``),
the same conversation works on the draft alone: bob names himself to ``submitMessage``,
alice's device adds bob from the claim's answer, and neither withheld URL is ever asked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from accord.client import conversations as convs
from accord.client import messaging, rooms
from accord.mls import group as g
from accord.wire import dumps, signing
from accord.wire import federation as fw
from accord.wire.mimi_accord import NOTIFY, FirstContactCarrier
from tests.e2e.helpers import Clock
from tests.engine import engine_params
from tests.federation import mimi_draft_decoder as draft
from tests.federation.capture import Exchange, Wire, captured_federation, endpoint_of
from tests.federation.groups import arrive, bodies, people, room_of_two
from tests.federation.providers import Provider, signed_post

A, B = "alpha.test", "beta.test"
FIRST_CONTACT = "/mimi/v1/accord-firstContact/"
DEVICES, POSTS, FED_BLOBS = "/federation/v1/devices", "/federation/v1/posts", "/federation/v1/blobs"
WITHHELD = {A: ["accord-hiddenSenders"], B: ["accord-deviceList"]}


@pytest.fixture(scope="module", params=engine_params())
def full(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_federation(tmp_path_factory.mktemp("ext"), [A, B]) as out:
        yield out


@pytest.fixture(scope="module", params=engine_params())
def withheld(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[dict[str, Provider], Wire]]:
    with captured_federation(tmp_path_factory.mktemp("ext-plain"), [A, B],
                             withhold=WITHHELD) as out:
        yield out


def short(provs: dict[str, Provider]) -> dict[str, Provider]:
    return {d.split(".")[0]: p for d, p in provs.items()}


def path_of(x: Exchange) -> str:
    return x.path.split("?", 1)[0]


async def directory(p: Provider) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.get(p.url + "/.well-known/mimi-protocol-directory")
    assert r.status_code == 200
    return orjson.loads(r.content)  # type: ignore[no-any-return]


async def converse(provs: dict[str, Provider], tmp_path: Path) -> tuple[Any, Any, Clock]:
    """alice@alpha adds bob@beta with the client library; hello both ways; alice sends
    a file that bob downloads. Both devices, and the clock."""
    clock = Clock()
    alice, bob = await people(tmp_path, short(provs), clock, "alice@alpha", "bob@beta")
    conv = await convs.create(alice, "ext", [bob.identity.account], clock())
    await messaging.send_text(alice, conv, "hello beta", clock())
    bconv = await arrive(bob, "ext", clock)
    await bodies(bob, "ext", "hello beta", clock)
    await messaging.send_text(bob, bconv, "hello alpha", clock())
    await bodies(alice, "ext", "hello alpha", clock)
    file_id = await messaging.send_file(alice, alice.store.conversation(conv["conv_id"]),
                                        b"attached bytes", "a.txt", "text/plain", clock())

    async def fetched() -> bytes | None:
        msgs = {x.msg_id: x for x in bob.store.messages(bconv["conv_id"])}
        if file_id not in msgs:
            return None
        return (await messaging.fetch_attachment(bob, file_id))[1]

    from tests.federation.groups import until

    assert await until(bob, clock, fetched, "the attachment") == b"attached bytes"
    return alice, bob, clock


async def test_T06_T11_client_library_adds_a_remote_user_over_mimi_with_extensions(
    full: tuple[dict[str, Provider], Wire], tmp_path: Path
) -> None:
    """The peer lists every extension: the device list comes from beta's accord-deviceList
    URL, bob's post goes hidden to alpha's accord-hiddenSenders URL, the attachment by
    direct download; everything else of the room is the draft's endpoints."""
    provs, wire = full
    for p in provs.values():
        listed = await directory(p)
        assert listed["accord-deviceList"] == p.url + DEVICES
        assert listed["accord-hiddenSenders"] == p.url + POSTS
    mark = wire.mark()
    alice, bob, _ = await converse(provs, tmp_path)
    try:
        assert not rooms.named_sender(bob, convs.find(bob, "ext")["group_id"])
        crossed = wire.since(mark)
        paths = {(x.to, path_of(x)) for x in crossed}
        assert (B, DEVICES) in paths, paths  # the accord-deviceList extension
        posts = [x for x in crossed if path_of(x) == POSTS]  # bob's hidden posts (T11)
        assert posts, [(x.to, x.method, path_of(x)) for x in crossed]
        for post in posts:
            assert post.to == A and post.sender == B and post.status == 201
            body = orjson.loads(post.request_body)
            assert set(body) == {"group_id", "epoch", "nonce", "ciphertext", "signature"}
            assert bob.identity.account.encode() not in post.request_body
        assert "submitMessage" not in {endpoint_of(x) for x in crossed}
        # the attachment: MIMI's direct download of its asset URL, never Accord's blob route
        [blob] = [x for x in crossed if path_of(x).startswith("/v1/blobs/")]
        assert blob.to == A and blob.method == "GET" and blob.status == 200
        assert FED_BLOBS not in {path_of(x) for x in crossed}
        # the Welcome's sealed first-contact request (issue 18) in accord-firstContact's
        # carrier: the draft's notify body inside it, whole, decodes with the draft's
        # structures
        carriers = [x for x in crossed if path_of(x).startswith(FIRST_CONTACT)]
        assert carriers and all(c.to == B and c.status == 201 for c in carriers)
        for c in carriers:
            carrier = FirstContactCarrier.from_bytes(c.request_body)
            assert carrier.endpoint == NOTIFY and carrier.first_contact
            draft.decode_body("notify", "request", carrier.mimi_body)
        # nothing else of Accord's own API crossed for the room
        others = {path_of(x) for x in crossed if endpoint_of(x) == "other"
                  and not path_of(x).startswith(("/v1/blobs/", "/v1/transparency",
                                                 FIRST_CONTACT))}
        assert others <= {DEVICES, POSTS}, [(x.to, x.method, path_of(x)) for x in crossed]
        assert {"keyMaterial", "notify"} <= {endpoint_of(x) for x in crossed}
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T06_T11_a_peer_not_listing_an_extension_never_gets_a_request_to_it(
    withheld: tuple[dict[str, Provider], Wire], tmp_path: Path
) -> None:
    """alpha withholds accord-hiddenSenders, beta accord-deviceList: alice adds bob from
    the claim's answer alone, bob names himself to submitMessage (his client posts
    under its session), and neither withheld URL is requested."""
    provs, wire = withheld
    assert "accord-hiddenSenders" not in await directory(provs[A])
    assert "accord-deviceList" not in await directory(provs[B])
    mark = wire.mark()
    alice, bob, _ = await converse(provs, tmp_path)
    try:
        assert rooms.named_sender(bob, convs.find(bob, "ext")["group_id"])
        crossed = wire.since(mark)
        assert (B, DEVICES) not in {(x.to, path_of(x)) for x in crossed}
        assert (A, POSTS) not in {(x.to, path_of(x)) for x in crossed}
        submits = [x for x in crossed if endpoint_of(x) == "submitMessage"]
        assert submits and all(x.to == A and x.sender == B for x in submits)
        assert "keyMaterial" in {endpoint_of(x) for x in crossed}
    finally:
        for d in (alice, bob):
            await d.disconnect()


async def test_T11_the_hidden_sender_extension_route_refuses_a_wrong_posting_key(
    full: tuple[dict[str, Provider], Wire]
) -> None:
    """A post to the URL alpha lists as accord-hiddenSenders is taken only under the
    epoch's posting key: the same message signed by another key is refused (401), and
    signed right it is accepted."""
    provs, _ = full
    alpha, beta = provs[A], provs[B]
    url = (await directory(alpha))["accord-hiddenSenders"]
    assert url.startswith(alpha.url)
    async with httpx.AsyncClient(base_url=alpha.url, timeout=20.0) as ha, \
            httpx.AsyncClient(base_url=beta.url, timeout=20.0) as hb:
        tag = secrets.token_hex(3)
        a, b, gid = await room_of_two(ha, f"alice{tag}@{A}", hb, f"bob{tag}@{B}")
        msg, b.state = g.protect(b.state, b"hidden hello")
        ciphertext, epoch = bytes(msg.to_bytes()), b.epoch()

        def post(key: Any) -> httpx.Request:
            nonce = secrets.token_bytes(16)
            sig = key.sign(signing.post_input(gid, epoch, nonce, ciphertext))
            body = dumps(fw.FedPost(group_id=gid, epoch=epoch, nonce=nonce,
                                    ciphertext=ciphertext, signature=sig))
            return signed_post(alpha.url, url[len(alpha.url):], body, B, beta.key().sign)

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        r = await ha.send(post(Ed25519PrivateKey.generate()))
        assert r.status_code == 401, r.text
        assert [i for i in (await a.fetch()).items if i.kind == "application"] == []
        r = await ha.send(post(b.posting_key()))
        assert r.status_code == 201, r.text
        got = [i for i in (await a.wait_items(1)) if i.kind == "application"]
        assert [a.read(i.body) for i in got] == [b"hidden hello"]
        assert all(i.sender is None for i in got)
