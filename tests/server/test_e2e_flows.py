"""Main flows against a real ``accord server`` process on 127.0.0.1 (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets

import httpx
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.harness import (
    ServerProcess,
    SimDevice,
    application_post,
    group_path,
    mls_commit,
    mls_key_package,
    mls_new_group,
    posting_public,
    private_message,
    sealed_body,
)
from tests.timing import wait_until

from accord.wire import b64e, decode, encode, signing
from accord.wire import messages as m
from accord.wire.binary import QUEUE_SUBPROTOCOL, decode_queue_page


async def dev(http: httpx.AsyncClient, account: str) -> SimDevice:
    return await SimDevice(http, account).register()


async def make_group(alice: SimDevice, others: list[SimDevice], with_state: bool = False):
    """alice creates a group and adds ``others`` in one MLS commit; returns (gid, posting key)."""
    gid = secrets.token_bytes(32)
    pk0 = Ed25519PrivateKey.generate()
    new_group, mls_state = mls_new_group(alice, gid, posting_public(pk0))
    await alice.call("POST", "/v1/groups", new_group, expect=201)
    pk1 = Ed25519PrivateKey.generate()
    commit, welcome, state = mls_commit(mls_state,
                                        add=[mls_key_package(d) for d in others])
    req = m.CommitRequest(epoch=0, commit=commit, posting_key=posting_public(pk1),
                          added=[d.device_id for d in others], welcome=welcome)
    r = await alice.call("POST", group_path(gid, "/commits"), req, expect=201)
    assert decode(m.CommitResponse, r.json()).epoch == 1
    return (gid, pk1, state, welcome) if with_state else (gid, pk1)


async def test_register_login_and_devices(http: httpx.AsyncClient, names) -> None:
    alice = await dev(http, names("alice"))
    phone = await alice.link(SimDevice(http, alice.account))
    r = await alice.call("GET", f"/v1/accounts/{alice.account}/devices")
    listing = decode(m.DeviceList, r.json())
    assert {(d.device_id, d.signature_key) for d in listing.devices} == {
        (alice.device_id, alice.public),
        (phone.device_id, phone.public),
    }
    # Same account name again (validly signed), or a wrong domain, is refused.
    again = Ed25519PrivateKey.generate()
    pub = again.public_key().public_bytes_raw()
    r = await http.post("/v1/accounts", json=encode(m.RegisterRequest(
        account=alice.account, signature_key=pub,
        signature=again.sign(signing.register_input(alice.account, pub)))))
    assert r.status_code == 409 and r.json()["error"] == "conflict", r.text
    r = await http.post("/v1/accounts", json=encode(m.RegisterRequest(
        account=alice.account, signature_key=b"k" * 32, signature=b"s" * 64)))
    assert r.status_code == 401 and r.json()["error"] == "crypto_error", r.text
    r = await http.post("/v1/accounts", json=encode(m.RegisterRequest(
        account="eve@beta.test", signature_key=b"k" * 32, signature=b"s" * 64)))
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    await phone.call("DELETE", f"/v1/devices/{alice.device_id}", expect=204)
    r = await alice.call("GET", "/v1/keypackages/count")
    assert r.status_code == 401  # its session went with it
    r = await phone.call("GET", f"/v1/accounts/{alice.account}/devices")
    assert [d["device_id"] for d in r.json()["devices"]] == [phone.device_id]


async def test_login_needs_the_device_key_and_a_fresh_challenge(
    http: httpx.AsyncClient, names
) -> None:
    alice = await dev(http, names("alice"))
    r = await http.post("/v1/auth/challenge", json={"device_id": alice.device_id})
    nonce = decode(m.ChallengeResponse, r.json()).nonce
    forged = Ed25519PrivateKey.generate().sign(b"anything")
    req = m.LoginRequest(device_id=alice.device_id, nonce=nonce, signature=forged)
    r = await http.post("/v1/auth/login", json=encode(req))
    assert r.status_code == 401
    r = await http.post("/v1/auth/login", json=encode(req))  # the nonce is spent
    assert r.status_code == 401 and "challenge" in r.json()["message"]
    r = await http.get("/v1/queue", headers={"Authorization": "Bearer " + "x" * 43})
    assert r.status_code == 401


async def test_key_packages(http: httpx.AsyncClient, names) -> None:
    bob = await dev(http, names("bob"))
    bob2 = await bob.link(SimDevice(http, bob.account))
    alice = await dev(http, names("alice"))
    kp_a, kp_b, kp_last, kp2 = (mls_key_package(bob), mls_key_package(bob),
                                mls_key_package(bob), mls_key_package(bob2))
    up = m.UploadKeyPackagesRequest(key_packages=[kp_a, kp_b], last_resort=kp_last)
    r = await bob.call("POST", "/v1/keypackages", up, expect=200)
    assert decode(m.KeyPackageCount, r.json()) == m.KeyPackageCount(count=2, last_resort=True)
    await bob2.call("POST", "/v1/keypackages",
                    m.UploadKeyPackagesRequest(key_packages=[kp2]), expect=200)
    claim = f"/v1/accounts/{bob.account}/keypackages/claim"
    got = decode(m.ClaimResponse, (await alice.call("POST", claim, expect=200)).json())
    assert sorted(k.key_package for k in got.key_packages) == sorted([kp_a, kp2])
    got = decode(m.ClaimResponse, (await alice.call("POST", claim, expect=200)).json())
    assert [k.key_package for k in got.key_packages] == [kp_b]
    got = decode(m.ClaimResponse, (await alice.call("POST", claim, expect=200)).json())
    assert [(k.key_package, k.last_resort) for k in got.key_packages] == [(kp_last, True)]
    r = await bob.call("GET", "/v1/keypackages/count", expect=200)
    # handed out, so bob's device is told to rotate it (issue 17); no limit was involved
    assert r.json() == {"count": 0, "last_resort": True, "last_resort_used": True, "withheld": 0}


async def test_concurrent_claims_over_http(http: httpx.AsyncClient, names) -> None:
    bob = await dev(http, names("bob"))
    claimers = [await dev(http, names(f"c{i}")) for i in range(4)]
    kps = [mls_key_package(bob) for i in range(30)]
    await bob.call("POST", "/v1/keypackages", m.UploadKeyPackagesRequest(key_packages=kps),
                   expect=200)
    claim = f"/v1/accounts/{bob.account}/keypackages/claim"
    rs = await asyncio.gather(*(c.call("POST", claim) for c in claimers for _ in range(10)))
    handed = [k["key_package"] for r in rs if r.status_code == 200
              for k in r.json()["key_packages"]]
    assert sorted(handed) == sorted(b64e(k) for k in kps)


async def test_group_commit_order_and_hidden_sender_delivery(
    http: httpx.AsyncClient, names
) -> None:
    alice, bob, carol = [await dev(http, names(n)) for n in ("alice", "bob", "carol")]
    gid, pk1, state, welcome = await make_group(alice, [bob, carol], with_state=True)
    page = await bob.fetch()
    assert [(i.kind, i.body, i.sender) for i in page.items] == [
        ("welcome", welcome, alice.device_id)
    ]
    # Two commits for epoch 1: the first wins, the second gets 409 with the epoch.
    commit_a, _, _ = mls_commit(state, update=True)
    commit_b, _, _ = mls_commit(state, remove=[1])
    c1 = m.CommitRequest(epoch=1, commit=commit_a, posting_key=b"B" * 32)
    c2 = m.CommitRequest(epoch=1, commit=commit_b, posting_key=b"C" * 32,
                         removed=[bob.device_id])
    r1 = await alice.call("POST", group_path(gid, "/commits"), c1)
    r2 = await alice.call("POST", group_path(gid, "/commits"), c2)
    assert (r1.status_code, r2.status_code) == (201, 409)
    assert r2.json()["current_epoch"] == 2 and r2.json()["error"] == "conflict"
    # Application messages carry no session; the stored item names no sender.
    post = application_post(pk1, gid, 1, b"ciphertext-1")  # previous epoch: accepted
    r = await http.post(group_path(gid, "/messages"), json=encode(post))
    assert r.status_code == 201, r.text
    r = await http.post(group_path(gid, "/messages"), json=encode(post))
    assert r.status_code == 409  # replayed nonce
    wrong = application_post(Ed25519PrivateKey.generate(), gid, 1, b"forged")
    assert (await http.post(group_path(gid, "/messages"), json=encode(wrong))).status_code == 401
    stale = application_post(pk1, gid, 0, b"old")
    assert (await http.post(group_path(gid, "/messages"), json=encode(stale))).status_code == 409
    # The post must be an MLS PrivateMessage of this group and epoch (only its header is read).
    for ciphertext, status in ((b"plain bytes", 400),
                               (private_message(b"other group", 1, b"x"), 422),
                               (commit_a, 422)):
        nonce = secrets.token_bytes(16)
        bad = m.ApplicationPost(epoch=1, nonce=nonce, ciphertext=ciphertext,
                                signature=pk1.sign(signing.post_input(gid, 1, nonce, ciphertext)))
        r = await http.post(group_path(gid, "/messages"), json=encode(bad))
        assert r.status_code == status, r.text
    for member in (alice, bob, carol):
        items = (await member.fetch()).items
        app = [i for i in items if i.kind == "application"]
        assert [(sealed_body(i.body), i.sender) for i in app] == [(b"ciphertext-1", None)]
    items = (await carol.fetch()).items
    assert [i.kind for i in items] == ["welcome", "commit", "application"]
    assert items[1].body == commit_a and items[1].sender == alice.device_id
    r = await carol.call("POST", "/v1/queue/ack", m.AckRequest(up_to=items[-1].seq), expect=200)
    assert r.json() == {"removed": 3}
    assert (await carol.fetch()).items == []


async def test_websocket_push(server: ServerProcess, http: httpx.AsyncClient, names) -> None:
    alice, bob = await dev(http, names("alice")), await dev(http, names("bob"))
    gid, pk1 = await make_group(alice, [bob])
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": bob.token}))
        first = decode(m.WsItems, json.loads(await asyncio.wait_for(ws.recv(), 10)))
        assert [i.kind for i in first.items] == ["welcome"]
        post = application_post(pk1, gid, 1, b"pushed")
        assert (await http.post(group_path(gid, "/messages"), json=encode(post))).status_code == 201
        pushed = decode(m.WsItems, json.loads(await asyncio.wait_for(ws.recv(), 10)))
        assert [sealed_body(i.body) for i in pushed.items] == [b"pushed"]
        await ws.send(json.dumps({"type": "ack", "up_to": pushed.items[-1].seq}))

    async def acked() -> bool:  # the ack is processed asynchronously
        return not (await bob.fetch()).items

    await wait_until(acked, 5.0, "bob's queue emptied by his ack")


async def test_websocket_push_in_binary_frames(server: ServerProcess, http: httpx.AsyncClient,
                                               names) -> None:
    """Under the accord.queue.v1 subprotocol (wire.binary, issue 23) each push frame is a
    binary queue page, with the items the JSON queue read gives."""
    alice, bob = await dev(http, names("alice")), await dev(http, names("bob"))
    gid, pk1 = await make_group(alice, [bob])
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    async with websockets.connect(ws_url, subprotocols=[QUEUE_SUBPROTOCOL]) as ws:
        assert ws.subprotocol == QUEUE_SUBPROTOCOL
        await ws.send(json.dumps({"type": "auth", "token": bob.token}))
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(frame, bytes)
        first = decode_queue_page(frame)
        assert [i.kind for i in first.items] == ["welcome"]
        post = application_post(pk1, gid, 1, b"pushed")
        assert (await http.post(group_path(gid, "/messages"), json=encode(post))).status_code == 201
        pushed = decode_queue_page(await asyncio.wait_for(ws.recv(), 10))
        assert [sealed_body(i.body) for i in pushed.items] == [b"pushed"]
        assert pushed.next_after == pushed.items[-1].seq
    assert first.items + pushed.items == (await bob.fetch()).items


async def test_websocket_refuses_a_bad_token(server: ServerProcess) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/v1/ws"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "nope"}))
        try:
            await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError("expected the socket to close")
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4401


async def test_blobs(http: httpx.AsyncClient, names) -> None:
    alice = await dev(http, names("alice"))
    data = secrets.token_bytes(100_000)
    r = await http.post("/v1/blobs", content=data, headers=alice.auth)
    assert r.status_code == 201
    created = decode(m.BlobCreated, r.json())
    assert created.size == len(data)
    got = await http.get(f"/v1/blobs/{created.blob_id}")  # the capability is enough
    assert got.status_code == 200 and got.content == data
    assert (await http.get(f"/v1/blobs/{b64e(secrets.token_bytes(32))}")).status_code == 404
    assert (await http.post("/v1/blobs", content=data)).status_code == 401


async def test_limits_give_4xx_not_5xx(http: httpx.AsyncClient, names) -> None:
    alice = await dev(http, names("alice"))
    huge = b"{" + b" " * (600 * 1024) + b"}"
    r = await http.post("/v1/keypackages", content=huge, headers=alice.auth)
    assert r.status_code == 413
    r = await http.post("/v1/blobs", content=b"x" * (17 * 1024 * 1024), headers=alice.auth)
    assert r.status_code == 413
    # Bytes that are no JSON (or no base64) cannot be decoded; JSON of the wrong shape
    # breaks the request's declared structure.
    bad_bytes, bad_shape = (400, "decode_error"), (422, "validation_error")
    for body, want in ((b"", bad_bytes), (b"null", bad_shape), (b"[1]", bad_shape),
                       (b"{\"key_packages\": [\"!!\"]}", bad_bytes), (b"\xff", bad_bytes)):
        r = await http.post("/v1/keypackages", content=body, headers=alice.auth)
        assert (r.status_code, r.json()["error"]) == want, (body, r.text)
    r = await http.get("/v1/queue?after=-1", headers=alice.auth)
    assert r.status_code == 422
    r = await http.get("/v1/groups/!!!", headers=alice.auth)
    assert r.status_code == 400


async def test_hub_checks_mls_commits_and_key_packages(http: httpx.AsyncClient, names) -> None:
    alice, bob, carol, dave = [await dev(http, names(n)) for n in ("al", "bo", "ca", "da")]
    gid, _, state, _ = await make_group(alice, [bob, carol], with_state=True)
    path = group_path(gid, "/commits")

    async def refused(by: SimDevice, req: m.CommitRequest, status: int, rule: str) -> None:
        """Refused with exactly this status and for this rule (or error code)."""
        r = await by.call("POST", path, req)
        assert r.status_code == status, r.text
        assert rule in r.json()["message"] or rule == r.json()["error"], r.text

    commit, welcome, after = mls_commit(state, remove=[1], add=[mls_key_package(dave)])
    ok = m.CommitRequest(epoch=1, commit=commit, posting_key=b"P" * 32,
                         added=[dave.device_id], removed=[bob.device_id], welcome=welcome)
    await refused(alice, m.CommitRequest(epoch=1, commit=b"not mls", posting_key=b"P" * 32),
                  400, "decode_error")
    # The declared roster change must be the one in the commit.
    await refused(alice, dataclasses.replace(ok, removed=[carol.device_id]), 422,
                  "'removed' must be the devices the Remove proposals name (RFC 9420 12.1.3)")
    await refused(alice, dataclasses.replace(ok, added=[carol.device_id]), 422,
                  "an added device is already a member (RFC 9420 12.1.1)")
    other_welcome = mls_commit(state, add=[mls_key_package(dave)])[1]
    await refused(alice, dataclasses.replace(ok, welcome=other_welcome), 422,
                  "(RFC 9420 12.4.3.1)")
    # bob cannot post alice's commit as his own (it is signed from leaf 0).
    await refused(bob, dataclasses.replace(ok, removed=[], added=[dave.device_id]), 422,
                  "the commit is not signed from the committer's leaf (RFC 9420 12.4)")
    r = await alice.call("POST", path, ok, expect=201)
    group = (await alice.call("GET", group_path(gid), expect=200)).json()
    assert sorted(group["members"]) == sorted([alice.device_id, carol.device_id, dave.device_id])
    # dave took bob's blank leaf 1 (RFC 9420 12.1.1): removing leaf 1 now means dave.
    commit2, _, _ = mls_commit(after, remove=[1])
    wrong = m.CommitRequest(epoch=2, commit=commit2, posting_key=b"Q" * 32,
                            removed=[carol.device_id])
    await refused(alice, wrong, 422, "(RFC 9420 12.1.3)")
    await alice.call("POST", path, dataclasses.replace(wrong, removed=[dave.device_id]),
                     expect=201)
    # KeyPackages must be valid and this device's own.
    up = m.UploadKeyPackagesRequest(key_packages=[mls_key_package(bob)])
    assert (await carol.call("POST", "/v1/keypackages", up)).status_code == 422
    junk = m.UploadKeyPackagesRequest(key_packages=[b"junk"])
    assert (await carol.call("POST", "/v1/keypackages", junk)).status_code == 400
    del r


async def test_proposals_are_checked_and_attributed(http: httpx.AsyncClient, names) -> None:
    from accord.mls import group as g

    alice, bob = await dev(http, names("alice")), await dev(http, names("bob"))
    gid, _, state, _ = await make_group(alice, [bob], with_state=True)
    proposal = g.propose_remove(state, 1)[0].to_bytes()
    path = group_path(gid, "/proposals")
    # bob cannot pass alice's proposal (signed from leaf 0) as his own.
    r = await bob.call("POST", path, m.ProposalRequest(epoch=1, proposal=proposal))
    assert r.status_code == 422 and "sender's leaf (RFC 9420 12.1)" in r.json()["message"]
    r = await alice.call("POST", path, m.ProposalRequest(epoch=1, proposal=b"junk"))
    assert r.status_code == 400 and r.json()["error"] == "decode_error", r.text
    r = await alice.call("POST", path, m.ProposalRequest(epoch=1, proposal=mls_commit(state)[0]))
    assert r.status_code == 422 and "not a proposal (RFC 9420 6)" in r.json()["message"]
    r = await alice.call("POST", path, m.ProposalRequest(epoch=2, proposal=proposal))
    assert r.status_code == 422 and "(RFC 9420 6.3)" in r.json()["message"], r.text
    r = await alice.call("POST", path, m.ProposalRequest(epoch=1, proposal=proposal))
    assert r.status_code == 201, r.text
    items = [i for i in (await bob.fetch()).items if i.kind == "proposal"]
    assert [(i.body, i.sender, i.epoch) for i in items] == [(proposal, alice.device_id, 1)]
    assert [i for i in (await alice.fetch()).items if i.kind == "proposal"] == []


async def test_T10_the_hub_closes_a_group_at_its_reinit(http: httpx.AsyncClient, names) -> None:
    """issue 18: once the hub took a ReInit commit, the old group takes no post in any
    epoch (409 group_moved: the sender follows the conversation to the new group).
    The hub must see the ReInit to close the group, so it goes by value in its commit:
    a ReInit proposal (which a commit could name by reference) is refused."""
    import time

    from accord.mls import group as g
    from accord.mls.structs import ProtocolVersion, ReInit

    alice, bob = await dev(http, names("alice")), await dev(http, names("bob"))
    gid, pk1, state, _ = await make_group(alice, [bob], with_state=True)
    new_gid = secrets.token_bytes(16)
    proposal = g.propose_reinit(state, new_gid, 1)[0].to_bytes()
    r = await alice.call("POST", group_path(gid, "/proposals"),
                         m.ProposalRequest(epoch=1, proposal=proposal))
    assert r.status_code == 422 and "ReInit" in r.json()["message"], r.text
    result, _ = g.commit(state, now=int(time.time()),
                         by_value=[ReInit(new_gid, ProtocolVersion.MLS10, 1, ())])
    pk2 = Ed25519PrivateKey.generate()
    await alice.call("POST", group_path(gid, "/commits"),
                     m.CommitRequest(epoch=1, commit=bytes(result.commit.to_bytes()),
                                     posting_key=posting_public(pk2)), expect=201)
    for key, epoch in ((pk1, 1), (pk2, 2)):
        post = application_post(key, gid, epoch, b"into a closed group")
        r = await http.post(group_path(gid, "/messages"), json=encode(post))
        assert r.status_code == 409 and r.json()["error"] == "group_moved", r.text
